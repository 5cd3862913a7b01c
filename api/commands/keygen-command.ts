/**
 * `totem-evs keygen FILE`: a new cluster key, for every node of one cluster to share. The key is
 * written as 64 hex digits, readable by its owner only (mode 0600); an existing file is never
 * overwritten, since replacing the key of a running cluster cuts this node off from the others.
 */
import { TotemError } from '../../workers/errors.js';
import { generateKeyFile } from '../../workers/net/key-file.js';

export const KEYGEN_USAGE = `Usage: totem-evs keygen FILE

Writes a new random cluster key to FILE (64 hex digits, mode 0600) and refuses to overwrite an
existing file. Copy the file to every node of the cluster and pass it as --key FILE (or
createNode({ key: { file } })). Exit status: 0 written, 2 bad usage or the file cannot be created.
`;

interface Out {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export function runKeygenCommand(argv: string[], out: Out): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.stdout.write(KEYGEN_USAGE);
    return 0;
  }
  const flag = argv.find((a) => a.startsWith('-'));
  if (flag !== undefined) {
    out.stderr.write(`totem-evs keygen: unknown flag '${flag}' (see totem-evs keygen --help)\n`);
    return 2;
  }
  if (argv.length !== 1) {
    out.stderr.write(`totem-evs keygen: takes exactly one FILE, got ${argv.length} arguments (see totem-evs keygen --help)\n`);
    return 2;
  }
  const file = argv[0] as string;
  try {
    generateKeyFile(file);
  } catch (err) {
    if (!(err instanceof TotemError)) throw err;
    out.stderr.write(`totem-evs keygen: ${err.message}\n`);
    return 2;
  }
  out.stdout.write(`wrote a new cluster key to ${file} (mode 0600): give every node of the cluster this file with --key\n`);
  return 0;
}

#!/usr/bin/env node
/**
 * The `totem-evs` command. Each subcommand lives beside what it drives; this file only dispatches.
 * Usage errors go to stderr with exit status 2; help and --version go to stdout with 0.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCheckCommand } from './check/check-command.js';
import { runKeygenCommand } from './commands/keygen-command.js';
import { runNodeCommand } from './commands/node-command.js';
import { runStatusCommand } from './commands/status-command.js';
import { suggest } from './options.js';

const usage = `Usage: totem-evs <command> [options]

Commands:
  bench        start a local ring of node processes on loopback and report throughput and latency
  node         run one member of a cluster (joins a group, optionally sends probe messages)
  check DIR    check a trace directory against the EVS properties (exit 0 only when all hold)
  status ADDR  print a running node's ring, members, state, rates and counters (its --metrics address)
  keygen FILE  write a new cluster key (mode 0600) for every node's --key

Options:
  --version    print the version
  --help       print this text

Run 'totem-evs <command> --help' for a command's options.
`;

const commands = ['bench', 'node', 'check', 'status', 'keygen'] as const;

/** The version in the package.json above this file (dist/api/cli.js or api/cli.ts alike). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'totem-evs' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json at this level: look one further up.
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = { stdout: process.stdout, stderr: process.stderr };
  switch (command) {
    case 'bench': {
      // The bench lives with the other measuring tools in perf/; load it only when asked for.
      const { runBench } = await import('../perf/bench.js');
      return runBench(rest, out);
    }
    case 'node':
      return runNodeCommand(rest, out);
    case 'check':
      return runCheckCommand(rest, out);
    case 'status':
      return runStatusCommand(rest, out);
    case 'keygen':
      return runKeygenCommand(rest, out);
    case '-v':
    case '--version':
    case 'version':
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(usage);
      return 0;
    case undefined:
      process.stderr.write(usage);
      return 2;
    default: {
      const near = suggest(command.replace(/^-+/, ''), commands);
      const hint = near === null ? '' : ` (did you mean '${near}'?)`;
      process.stderr.write(`totem-evs: unknown command '${command}'${hint}; commands: ${commands.join(', ')} (see totem-evs --help)\n`);
      return 2;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`totem-evs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

#!/usr/bin/env node
/**
 * The `totem-evs` command. Each subcommand lives beside what it drives; this file only dispatches.
 */
import { runNodeCommand } from './commands/node-command.js';
import { runCheckCommand } from './check/check-command.js';

const usage = `Usage: totem-evs <command> [options]

Commands:
  bench        start a local ring of node processes on loopback and report throughput and latency
  node         run one member of a cluster (joins a group, optionally sends probe messages)
  check DIR    check a trace directory against the EVS properties (exit 0 only when all hold)

Run 'totem-evs <command> --help' for a command's options.
`;

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
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`totem-evs: unknown command '${command}' (commands: bench, node, check)\n`);
      return 2;
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

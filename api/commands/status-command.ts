/**
 * `totem-evs status HOST:PORT`: how a running node is, read from its metrics endpoint (`/status`).
 * Two readings a second apart (`--interval-ms`) give the rates; one reading gives the rest.
 */
import { parseAddress } from '../options.js';

export const STATUS_USAGE = `Usage: totem-evs status HOST:PORT [--interval-ms MS] [--json]

Reads a running node's metrics endpoint (started with 'totem-evs node --metrics HOST:PORT' or
createNode({ metrics: { host, port } })) and prints its ring, members, membership state, rates
over --interval-ms (default 1000) and counters.

  --interval-ms MS  time between the two readings the rates come from (100..60000)
  --json            print both readings and the rates as one JSON object

Exit status: 0 read, 1 the endpoint did not answer or answered an error, 2 bad usage.
`;

interface Out {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

interface Status {
  nodeId: number;
  state: string;
  ring: string;
  members: number[];
  engine: Record<string, unknown> & { tokenRotations: number; packetsDropped: Record<string, number>; retransmitsSent: number; retransmitsRequested: number; configurationsInstalled: number };
  net: Record<string, number> & { dropped?: Record<string, number> };
  messagesSubmitted: number;
  messagesDelivered: number;
  submitsWaiting: number;
  groups: number;
}

/** Per-second rates between two readings. */
function rates(a: Status, b: Status, seconds: number): Record<string, number> {
  const per = (x: number, y: number): number => Math.round(((y - x) / seconds) * 10) / 10;
  return {
    deliveredMsgsPerSec: per(a.messagesDelivered, b.messagesDelivered),
    submittedMsgsPerSec: per(a.messagesSubmitted, b.messagesSubmitted),
    tokenRotationsPerSec: per(a.engine.tokenRotations, b.engine.tokenRotations),
    datagramsInPerSec: per(a.net.datagramsIn ?? 0, b.net.datagramsIn ?? 0),
    datagramsOutPerSec: per(a.net.datagramsOut ?? 0, b.net.datagramsOut ?? 0),
    retransmitsSentPerSec: per(a.engine.retransmitsSent, b.engine.retransmitsSent),
  };
}

async function read(url: string): Promise<Status> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body.trim()}`);
  return JSON.parse(body) as Status;
}

export async function runStatusCommand(argv: string[], out: Out): Promise<number> {
  const usage = (message: string): number => {
    out.stderr.write(`totem-evs status: ${message} (see totem-evs status --help)\n`);
    return 2;
  };
  let target: string | null = null;
  let intervalMs = 1000;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      out.stdout.write(STATUS_USAGE);
      return 0;
    }
    if (arg === '--json') json = true;
    else if (arg === '--interval-ms') {
      const v = argv[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 100 || Number(v) > 60_000) return usage('--interval-ms takes 100..60000');
      intervalMs = Number(v);
    } else if (arg.startsWith('-')) return usage(`unknown flag '${arg}'`);
    else if (target === null) target = arg;
    else return usage(`unexpected argument '${arg}'`);
  }
  if (target === null) return usage('missing HOST:PORT');
  let address;
  try {
    address = parseAddress(target, 'HOST:PORT');
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
  const host = address.family === 'IPv6' ? `[${address.host}]` : address.host;
  const url = `http://${host}:${address.port}/status`;
  let first: Status;
  let second: Status;
  const t0 = performance.now();
  try {
    first = await read(url);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    second = await read(url);
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    out.stderr.write(`totem-evs status: cannot read ${url}: ${err instanceof Error ? err.message : String(err)}${cause === undefined ? '' : ` (${cause})`}\n`);
    return 1;
  }
  const seconds = (performance.now() - t0) / 1000;
  const r = rates(first, second, seconds);
  if (json) {
    out.stdout.write(`${JSON.stringify({ status: second, rates: r, intervalS: Math.round(seconds * 1000) / 1000 })}\n`);
    return 0;
  }
  const s = second;
  const dropped = Object.entries(s.engine.packetsDropped).filter(([, n]) => n > 0);
  const netDropped = Object.entries(s.net.dropped ?? {}).filter(([, n]) => n > 0);
  out.stdout.write(
    `node ${s.nodeId}: ${s.state}${s.state === 'operational' ? '' : ' (sends wait until the ring is operational)'}\n` +
      `ring ${s.ring}, members ${s.members.join(',')}; groups ${s.groups}, sends waiting ${s.submitsWaiting}\n` +
      `rates over ${seconds.toFixed(1)} s: delivered ${r.deliveredMsgsPerSec} msgs/s, submitted ${r.submittedMsgsPerSec} msgs/s, ` +
      `token ${r.tokenRotationsPerSec} rotations/s, datagrams in ${r.datagramsInPerSec}/s out ${r.datagramsOutPerSec}/s, ` +
      `retransmits ${r.retransmitsSentPerSec}/s\n` +
      `counters: delivered ${s.messagesDelivered}, submitted ${s.messagesSubmitted}, configurations ${s.engine.configurationsInstalled}, ` +
      `retransmits sent ${s.engine.retransmitsSent} requested ${s.engine.retransmitsRequested}, ` +
      `auth failures ${s.net.authFailures ?? 0}, dropped ${dropped.length === 0 ? 0 : dropped.map(([k, n]) => `${k} ${n}`).join(', ')}\n` +
      `net dropped: ${netDropped.length === 0 ? 0 : netDropped.map(([k, n]) => `${k} ${n}`).join(', ')}` +
      `; warnings held back ${s.net.warningsHeldBack ?? 0}\n`,
  );
  return 0;
}

/**
 * A lock manager process driven by JSON commands on stdin (run from dist/), for tests that move
 * nodes between partitions (test/netns/locks-netns.test.ts):
 *   node lock-command-process.js <id> <host1:port,host2:port,...> <traceDir|-> <tokenTimeoutMs>
 * Commands, one JSON object a line: {"cmd":"lock","tag":T,"res":R,"mode":M,"failIfNotPrimary":b}
 * and {"cmd":"unlock","tag":T}. Prints one JSON line per event: ready, primary, members, granted
 * (tag, fence), rejected (tag, code), lost (tag, reason: transitional, revoked, purged), unlocked.
 */
import { createInterface } from 'node:readline';
import { createNode, openLockManager, type LockHandle } from '../../api/index.js';

function print(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...o, atMs: Date.now() }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

async function main(): Promise<void> {
  const [idText, addressesText, traceDir, tokenText] = process.argv.slice(2);
  const id = Number(idText);
  const addresses = (addressesText ?? '').split(',');
  const members = addresses.map((address, i) => ({ nodeId: i + 1, address }));
  const node = await createNode({
    nodeId: id,
    bind: addresses[id - 1] as string,
    members,
    insecure: true,
    tokenTimeoutMs: Number(tokenText),
    logLevel: 'error',
    ...(traceDir === undefined || traceDir === '-' ? {} : { trace: traceDir }),
  });
  node.on('error', (e) => print({ ev: 'error', code: e.code }));
  process.on('SIGTERM', () => {
    void node.close({ drainTimeoutMs: 1000 }).catch(() => undefined).finally(() => process.exit(0));
  });
  const locks = await openLockManager(node);
  locks.on('primary', (primary) => print({ ev: 'primary', primary }));
  node.on('members', (m, change) => print({ ev: 'members', members: m, cause: change.cause }));
  const handles = new Map<string, LockHandle>();
  const tagOf = (h: LockHandle): string => [...handles].find(([, x]) => x === h)?.[0] ?? h.id;
  locks.on('lost', (h, reason) => print({ ev: 'lost', tag: tagOf(h), reason }));
  await locks.waitForMembers(addresses.length);
  while (locks.members.length < addresses.length || !locks.primary) await new Promise((r) => setTimeout(r, 20));
  print({ ev: 'ready' });
  const ls = locks.lockspace('netns');
  for await (const line of createInterface({ input: process.stdin })) {
    const c = JSON.parse(line) as { cmd: string; tag: string; res?: string; mode?: string; failIfNotPrimary?: boolean };
    if (c.cmd === 'lock') {
      ls.lock(c.res as string, (c.mode ?? 'EX') as 'EX', { failIfNotPrimary: c.failIfNotPrimary === true }).then(
        (h) => {
          handles.set(c.tag, h);
          print({ ev: 'granted', tag: c.tag, fence: h.fencingToken, primary: locks.primary });
        },
        (e: unknown) => print({ ev: 'rejected', tag: c.tag, code: (e as { code?: string }).code ?? String(e) }),
      );
    } else if (c.cmd === 'unlock') {
      const h = handles.get(c.tag);
      void h?.unlock().then(() => print({ ev: 'unlocked', tag: c.tag }), (e: unknown) => print({ ev: 'unlock-failed', tag: c.tag, code: (e as { code?: string }).code }));
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});

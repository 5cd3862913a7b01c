/**
 * The peer lock services of the locks bench, started on this machine for the same run: 3 etcd
 * members (one cluster) and 3 independent Redis servers (Redlock's setting), on 127.0.0.1 only,
 * each on free TCP ports, data under a temporary directory of /dev/shm. Every process started
 * here is stopped here, by its PID.
 *
 * Durability, and why this is fair: totem-evs keeps lock tables in memory (replicated on every
 * member, nothing written to disk per operation). etcd fsyncs its WAL on every commit and etcd
 * 3.4 (Debian's) has no flag to turn that off, so its data directory is on tmpfs (/dev/shm): the
 * fsync is made but costs no disk. Redis runs without persistence (`--save ''`, `--appendonly
 * no`), as Redlock's servers usually do. Each peer thus keeps its state in memory, as totem-evs
 * does; on a disk, etcd would be slower than measured here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';

export interface PeerCluster {
  kind: 'etcd' | 'redlock';
  /** What a client process is given: etcd client URLs (comma-joined) per member, or Redis ports. */
  clientTargets: string[];
  /** The configuration in words, for the report. */
  config: string;
  stop(): Promise<void>;
}

export async function freeTcpPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<import('node:net').Server>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tmpDir(prefix: string): string {
  try {
    return mkdtempSync(join('/dev/shm', prefix));
  } catch {
    return mkdtempSync(join('/tmp', prefix));
  }
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

function startProcess(command: string, args: string[], what: string, stderr: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.join('').length < 4000) stderr.push(`${what}: ${chunk}`);
  });
  return child;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, stderr: string[]): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (Date.now() < deadlineMs) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready within ${timeoutMs} ms: ${stderr.join('').slice(-1500)}`);
}

/** 3 etcd members (Debian's etcd-server) on loopback; resolves once all report healthy. */
export async function startEtcd(members = 3): Promise<PeerCluster> {
  const ports = await freeTcpPorts(2 * members);
  const dir = tmpDir('totem-bench-etcd-');
  const names = Array.from({ length: members }, (_, i) => `e${i + 1}`);
  const peerUrl = (i: number): string => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const clientUrl = (i: number): string => `http://127.0.0.1:${ports[2 * i]}`;
  const cluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const stderr: string[] = [];
  const children = names.map((name, i) => {
    mkdirSync(join(dir, name));
    return startProcess('etcd', [
      '--name', name, '--data-dir', join(dir, name),
      '--listen-client-urls', clientUrl(i), '--advertise-client-urls', clientUrl(i),
      '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'totem-bench',
      '--logger', 'zap', '--log-level', 'error', '--enable-v2=false',
    ], `etcd ${name}`, stderr);
  });
  const stop = async (): Promise<void> => {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < members; i++) {
      await waitUntil(async () => {
        if (children.some((c) => c.exitCode !== null)) throw new Error('an etcd member exited');
        const res = await fetch(`${clientUrl(i)}/health`);
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      }, 30_000, `etcd member ${i + 1}`, stderr);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kind: 'etcd',
    clientTargets: names.map((_, i) => clientUrl(i)),
    config: `${members} etcd members (etcd ${'3.4'}, one cluster) on 127.0.0.1; WAL fsync per commit, data directory on tmpfs (${dir.startsWith('/dev/shm') ? '/dev/shm' : '/tmp'}); client: etcd3 Lock (lease grant + create-if-absent txn, release revokes the lease); each client process talks to one member`,
    stop,
  };
}

/** 3 independent Redis servers (Debian's redis-server) on loopback, no persistence. */
export async function startRedis(servers = 3): Promise<PeerCluster> {
  const ports = await freeTcpPorts(servers);
  const dir = tmpDir('totem-bench-redis-');
  const stderr: string[] = [];
  const children = ports.map((port, i) => {
    mkdirSync(join(dir, `r${i + 1}`));
    return startProcess('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', join(dir, `r${i + 1}`), '--daemonize', 'no', '--loglevel', 'warning',
    ], `redis ${i + 1}`, stderr);
  });
  const stop = async (): Promise<void> => {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      await waitUntil(async () => {
        if (children.some((c) => c.exitCode !== null)) throw new Error('a redis server exited');
        return await new Promise<boolean>((resolve) => {
          const s = new Socket();
          s.once('error', () => resolve(false));
          s.connect(port, '127.0.0.1', () => {
            s.end('PING\r\n');
            resolve(true);
          });
        });
      }, 15_000, `redis on ${port}`, stderr);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kind: 'redlock',
    clientTargets: ports.map(() => ports.join(',')),
    config: `${servers} independent Redis servers (redis-server 7.0) on 127.0.0.1, no persistence (save '', appendonly no); client: @sesamecare-oss/redlock over ioredis, quorum ${Math.floor(servers / 2) + 1} of ${servers}, no retries inside Redlock (the loop retries a taken lock)`,
    stop,
  };
}

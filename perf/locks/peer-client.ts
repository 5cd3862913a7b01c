/**
 * One client process of a peer lock service in the locks bench (forked with IPC):
 *   node peer-client.js etcd <endpoint>          etcd3's Lock (lease + create-if-absent txn)
 *   node peer-client.js redlock <port,port,...>   Redlock over every Redis server (ioredis)
 * The same workload as the totem-evs nodes (workload.ts): says {type:'ready'}, runs on
 * {type:'run', spec}, replies {type:'result'}, exits on {type:'stop'}.
 *
 * A lock that is taken: etcd3's acquire fails at once (EtcdLockFailedError) and Redlock's retries
 * run out; both are retried by the loop (counted as retries), as an application would. Without
 * contention neither happens.
 */
import { loadPeerModule } from './peer-modules.js';
import { RetryLater, runLockWorkload, type Acquire, type LockWorkloadSpec } from './workload.js';

interface EtcdLock {
  ttl(seconds: number): EtcdLock;
  acquire(): Promise<EtcdLock>;
  release(): Promise<void>;
}
interface EtcdClient {
  lock(key: string): EtcdLock;
  put(key: string): { value(v: string): Promise<unknown> };
  close(): void;
}
interface RedlockLock {
  release(): Promise<unknown>;
}
interface RedlockClient {
  on(event: 'error', listener: (err: unknown) => void): unknown;
  acquire(resources: string[], durationMs: number, settings?: Record<string, number>): Promise<RedlockLock>;
}
interface RedisClient {
  ping(): Promise<string>;
  quit(): Promise<unknown>;
}

function send(m: Record<string, unknown>): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const [kind, target, idText] = process.argv.slice(2);
  const id = Number(idText ?? '1');
  let acquire: Acquire;
  let close: () => Promise<void>;
  if (kind === 'etcd') {
    const { Etcd3, EtcdLockFailedError } = loadPeerModule<{ Etcd3: new (o: { hosts: string }) => EtcdClient; EtcdLockFailedError: new () => Error }>('etcd3');
    const client = new Etcd3({ hosts: target as string });
    await client.put(`bench-ready-${id}`).value('1');
    acquire = async (resource) => {
      // Shared locks: etcd3's Lock has none; every lock is exclusive.
      try {
        const lock = await client.lock(`bench/${resource}`).ttl(30).acquire();
        return () => lock.release();
      } catch (err) {
        if (err instanceof EtcdLockFailedError) throw new RetryLater();
        throw err;
      }
    };
    close = async () => client.close();
  } else if (kind === 'redlock') {
    const Redis = loadPeerModule<{ default?: new (o: Record<string, unknown>) => RedisClient } & (new (o: Record<string, unknown>) => RedisClient)>('ioredis');
    const RedisCtor = (Redis.default ?? Redis) as new (o: Record<string, unknown>) => RedisClient;
    const mod = loadPeerModule<{ Redlock?: new (c: RedisClient[], s: Record<string, number>) => RedlockClient; default?: new (c: RedisClient[], s: Record<string, number>) => RedlockClient; ResourceLockedError?: new () => Error; ExecutionError?: new () => Error }>('@sesamecare-oss/redlock');
    const RedlockCtor = (mod.Redlock ?? mod.default) as new (c: RedisClient[], s: Record<string, number>) => RedlockClient;
    const clients = (target as string).split(',').map((port) => new RedisCtor({ host: '127.0.0.1', port: Number(port), enableAutoPipelining: false }));
    for (const c of clients) await c.ping();
    // No retries inside Redlock: the workload's loop retries a lock that is taken, like etcd's.
    const redlock = new RedlockCtor(clients, { driftFactor: 0.01, retryCount: 0, retryDelay: 0, retryJitter: 0, automaticExtensionThreshold: 500 });
    redlock.on('error', () => undefined); // per-attempt errors: the acquire's rejection tells them
    acquire = async (resource) => {
      try {
        const lock = await redlock.acquire([`bench:${resource}`], 30_000);
        return async () => {
          await lock.release();
        };
      } catch (err) {
        const name = (err as Error).name;
        if (name === 'ExecutionError' || name === 'ResourceLockedError') throw new RetryLater();
        throw err;
      }
    };
    close = async () => {
      await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
    };
  } else {
    throw new Error(`unknown peer ${String(kind)}`);
  }
  send({ type: 'ready' });
  process.on('message', (m: { type: string; spec?: LockWorkloadSpec }) => {
    if (m.type === 'stop') {
      void close().finally(() => process.exit(0));
      return;
    }
    if (m.type !== 'run' || m.spec === undefined) return;
    const cpuBefore = process.cpuUsage();
    void runLockWorkload(m.spec, `p${id}`, acquire).then((result) => {
      const cpu = process.cpuUsage(cpuBefore);
      send({ type: 'result', ...result, cpuMs: (cpu.user + cpu.system) / 1000 });
    });
  });
}

main().catch((e: unknown) => {
  send({ type: 'error', message: String(e) });
  process.exit(1);
});

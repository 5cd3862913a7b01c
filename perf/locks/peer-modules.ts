/**
 * Loads the npm clients of the peers (etcd3, @sesamecare-oss/redlock, ioredis) on demand: they
 * are devDependencies of totem-evs, used by the bench only. Looked up from this package, then
 * from the directory in TOTEM_BENCH_PEER_MODULES (a folder holding a node_modules with them,
 * for a checkout whose node_modules lacks them).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export class PeerUnavailable extends Error {}

export function loadPeerModule<T>(name: string): T {
  const bases = [import.meta.url];
  const extra = process.env['TOTEM_BENCH_PEER_MODULES'];
  if (extra !== undefined && extra !== '') bases.push(pathToFileURL(join(extra, 'peer-modules.cjs')).href);
  for (const base of bases) {
    try {
      return createRequire(base)(name) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  throw new PeerUnavailable(`the npm package ${name} is not installed: run npm install (it is a devDependency), or set TOTEM_BENCH_PEER_MODULES to a folder whose node_modules has it`);
}

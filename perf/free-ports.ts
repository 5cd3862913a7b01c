/**
 * UDP ports the kernel says are free now: bind port 0 once per port wanted, read the ports, close
 * the sockets. Used by the bench, the perf scripts and the tests that start nodes on loopback.
 * (A port can be taken again between this call and its use; callers that bind fail loudly then.)
 */
import { createSocket, type Socket } from 'node:dgram';

export async function freeUdpPorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = createSocket('udp4');
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, host, () => resolve());
      });
    }
    return sockets.map((s) => s.address().port);
  } finally {
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

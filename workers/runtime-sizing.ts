/**
 * How much memory one node sets aside, and the one place it is allocated: the capacity of every
 * ring, the submit queue bound, each worker's young generation, the socket receive buffer asked
 * for, and allocateRings(), which makes the SharedArrayBuffers once at start.
 *
 * A room of its own because these numbers are read together: their sum is most of a saturated
 * node's resident memory, and each is justified against the others (workers/README.md, Memory of
 * a node). Nothing here runs after start.
 */
import type { ThreadName } from './control.js';
import { Doorbell } from './ring/doorbell.js';
import { SpscRing } from './ring/spsc-ring.js';
import { WakeFlags } from './wake-flags.js';
import type { BellRef, SharedRings } from './worker-data.js';

const mebibyte = 1024 * 1024;

/**
 * Ring capacities, fixed whatever messageBytesMax is. A ring refuses a record above capacity / 8,
 * and the submit and delivery rings once grew to 8 × the largest message record (16 MiB each for
 * the default 1 MiB messageBytesMax); at saturation the ring wraps and every page of it is
 * touched, so that was resident memory. Records longer than partChunkBytes (64 KiB) now cross as
 * parts (ring/chunks.ts), and these sizes are about buffering only. Every page of every ring is
 * resident once the node has run at saturation for a few seconds: the sum is part of each node's
 * RSS.
 *
 * submit 1 MiB: only a hand-over between threads. submit() lets at most submitQueueBytesMax
 *   (256 KiB) wait here, so 1 MiB is four times what is ever queued of small messages; a large
 *   message streams through in parts while the token worker takes them.
 * in 8 MiB: absorbs what the sockets receive while the token worker is busy (a freeze of the
 *   thread, a burst of retransmissions); twice the 4 MiB kernel receive buffer asked for, so the
 *   ring is never the first place datagrams are lost.
 * out 2 MiB: one token visit sends at most windowSize frames plus the token; 2 MiB holds about
 *   1,800 full 1,500-byte frames, dozens of visits, far more than the net worker lags behind.
 * frames 2 MiB: the delivery worker is usually as fast as the token worker; this absorbs bursts
 *   (a recovery delivers a whole old ring's tail at once). When it is full the token worker
 *   waits; the delivery worker empties it even while the main thread is stalled, by moving what
 *   the delivery ring cannot take into its buffer (deliveryBufferBytesDefault below). (It was
 *   8 MiB; the saturated bench showed no difference in throughput, and 6 MiB less resident
 *   memory per node.)
 * delivery 2 MiB: the application's callbacks on the main thread are the slowest consumer and
 *   pause for GC; see frames for the two together.
 */
export const submitRingBytes = 1 * mebibyte;
/**
 * What submit() lets wait in the submit ring (a record larger than this is taken when the ring is
 * empty). A message that waits there waits in line: at saturation own-delivery latency is about
 * the bytes queued ahead over the throughput, and 16 MiB queued at ~15 MB/s was a second. 256 KiB
 * is a few ms at full speed and still thousands of small messages, plenty to keep the token
 * worker fed between two token visits (the main thread refills it when it is half empty).
 */
export const submitQueueBytesMax = 256 * 1024;
/**
 * Undelivered bytes in the delivery ring past which submit() refuses this node's messages (and
 * below half of which `writable` follows): a node whose application is behind on its deliveries
 * stops adding to the ring's load. Without it, at saturation with every node sending, the main
 * threads fell behind the ring, the delivery workers buffered the difference (13-26 MB each in a
 * 10 s run of 64 B messages) and own-delivery latency was that backlog. The spill (deliveryBuffer)
 * fills only once the ring is full, so half the ring keeps it for what it is for: a stalled
 * application, and nodes that do not send. Joins and leaves are never held back by it.
 */
export const deliveryBacklogBytesMax = 1 * mebibyte;
export const inRingBytes = 8 * mebibyte;
export const outRingBytes = 2 * mebibyte;
export const frameRingBytes = 2 * mebibyte;
export const deliveryRingBytes = 2 * mebibyte;
/**
 * Largest young generation of each worker's V8 heap (Worker resourceLimits), in MiB; the old
 * generation and the main thread's heap keep V8's defaults. V8 grows a busy isolate's young
 * generation up to 3 × 16 MiB on 64-bit, and a saturated node's three workers took ~25 MiB of
 * its RSS that way (token ~13, net ~5, delivery ~3, measured one at a time). What the net and
 * delivery workers keep is small and short-lived (a datagram until it is in the in ring, a frame
 * until it is decoded), so they get V8's starting 1 MiB semi-spaces (3 = 3 × 1: V8's young
 * generation is three semi-spaces' worth; a size is rounded up to a power-of-two semi-space).
 * The token worker keeps every packet until every member holds it, a few token rotations: with
 * 2 MiB semi-spaces, a packet alive at two scavenges in a row was promoted, and promoted packets
 * and their ArrayBuffers waited for a full collection, ~14 MiB of old generation and ~20 MiB of
 * ArrayBuffers at 64 B with every node sending. With 4 MiB semi-spaces (12) most die young: peak
 * RSS per node 148-160 MiB there (was 159-167; 8 MiB semi-spaces: 159-177), 141-145 at 1 KiB
 * with one sender (was 133-136), throughput unchanged within the spread (3 loopback runs each).
 */
export const workerYoungGenerationMb: Readonly<Record<ThreadName, number>> = { net: 3, token: 12, delivery: 3 };
/**
 * Default of the deliveryBufferBytesMax option: bytes of deliveries the delivery worker keeps, in
 * its own heap, for an application that is not taking them (a blocked main thread, a slow
 * listener), beyond the frame and delivery rings. The token worker never waits for the
 * application: it keeps circulating the token while this buffer absorbs the stall; past it the
 * node leaves the ring (TOTEM_ERR_SLOW_CONSUMER). It must absorb a 2 s stall at the bench's
 * maximum rate of 1 KiB messages: 28.6k msgs/s (README, Performance: the best loopback figure;
 * this shared host measured 2.9-5.3 MB/s, 2026-12-04) × 2 s × (1,024 B payload + 40 B record
 * header + a short group name ≈ 1,072 B) = 61 MB; twice that, for faster hardware and for
 * multi-sender rings, is 122 MB: 128 MiB. It costs nothing until the application stalls: the
 * buffer holds only what waits.
 */
export const deliveryBufferBytesDefault = 128 * mebibyte;
/** Asked of the kernel for each socket (SO_RCVBUF); the grant is reported. */
export const receiveBufferBytes = 4 * mebibyte;

/** The node's rings, as the main thread holds them (the workers attach to `shared`). */
export interface NodeRings {
  submit: SpscRing;
  in: SpscRing;
  out: SpscRing;
  frames: SpscRing;
  delivery: SpscRing;
  /** What every worker receives in workerData. */
  shared: SharedRings;
}

/**
 * Allocates every ring, the wake flags and the doorbell words, once for the node's life. One
 * doorbell word per thread, in the trailer of a ring that thread consumes (ring/doorbell.ts).
 */
export function allocateRings(): NodeRings {
  const submit = SpscRing.create(submitRingBytes);
  const inRing = SpscRing.create(inRingBytes);
  const out = SpscRing.create(outRingBytes);
  const frames = SpscRing.create(frameRingBytes);
  const delivery = SpscRing.create(deliveryRingBytes);
  const bellOf = (ring: SpscRing): BellRef => {
    const b = Doorbell.ofRing(ring);
    return { sab: b.sab, byteOffset: b.byteOffset };
  };
  const shared: SharedRings = {
    submit: submit.sab,
    in: inRing.sab,
    out: out.sab,
    frames: frames.sab,
    delivery: delivery.sab,
    bells: { main: bellOf(delivery), net: bellOf(out), token: bellOf(inRing), delivery: bellOf(frames) },
    flags: WakeFlags.create().sab,
  };
  return { submit, in: inRing, out, frames, delivery, shared };
}

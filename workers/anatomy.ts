/**
 * Latency anatomy: for one message in `anatomySampleEvery` (by the sender's counter, so every node
 * samples the same messages), the runtime stamps the time each stage of its path was reached, and
 * the main thread hands the stamps to the node with the delivery (RuntimeEvents.deliver). The
 * benchmark turns them into per-stage percentiles, so a change to the runtime can say which stage
 * it shortened.
 *
 * Stages, in path order (absolute ms on one clock; see clockMs):
 *   taken    the token worker took the submission and the Packer gave it its counter (own only)
 *   frame    own message: the token worker broadcast the frame that completed it (handed it to the
 *            out ring); another node's: the token worker took that frame out of its in ring
 *   engine   the engine delivered that frame in total order (token worker)
 *   worker   the delivery worker's Assembler delivered the message
 *   pump     the main thread read it from the delivery ring
 * The node adds `accepted` (the runtime took the send) and the bench `intended`, `send()` called
 * and 'message' emitted.
 *
 * Cost: per frame two stamps the token worker takes anyway once per packet and once per engine
 * call that delivers, 16 bytes in the frame record; per sampled message 32 bytes in the delivery
 * record and one small record on the frame ring (own messages). Nothing is stamped per message
 * for the 63 others.
 */

/** One message in this many carries stamps (counters divisible by it). */
export const anatomySampleEvery = 64;

export function isSampledCounter(counter: number): boolean {
  return counter % anatomySampleEvery === 0;
}

/**
 * Every thread's performance.now() counts from its own timeOrigin (a worker's is its start):
 * timeOrigin + now() is the one clock every thread and process on a host shares (a monotonic
 * clock offset by the wall clock read once at the thread's start).
 */
const originMs = performance.timeOrigin;

/** Now, in ms on the shared clock: performance.timeOrigin + performance.now(). */
export function clockMs(): number {
  return originMs + performance.now();
}

/** The runtime's stamps of one sampled message; NaN where a stage does not apply. */
export interface DeliveryStamps {
  /** Own messages only: the token worker took it from the submit ring. */
  takenMs: number;
  /** Own: the frame completing it was broadcast; others': that frame left the in ring. */
  frameMs: number;
  engineMs: number;
  workerMs: number;
  pumpMs: number;
}

/** Bytes of the stamps at the end of a stamped deliveryMessage: takenMs, frameMs, engineMs, workerMs (f64 each). */
export const deliveryStampBytes = 32;

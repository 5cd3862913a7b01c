/**
 * Wake flags: one Int32 word per "this thread would act on it" condition, so that a thread rings
 * another's doorbell only when the wake can lead somewhere. Without them every read() of a ring
 * rang its producer's doorbell "in case it waits for room", and every submission rang the token
 * worker "in case it takes submissions": the producer and the token worker park after nearly every
 * batch, so most of those rings were a futex wake and two context switches for an empty poll
 * (measured: a quarter of the sender's non-idle time on the main and net threads went to
 * Atomics.notify).
 *
 * Protocol, for a thread T that needs condition C (room in a ring, a submission) and a thread P
 * that makes C true:
 *
 *   T: F1 set(flag)                         P: E1 the Atomics store that makes C true (read()'s
 *      F2 check C; when false, wait on its     head store, commit's length store)
 *         doorbell (whose W2 re-checks C)      E2 if isSet(flag): ring T's doorbell
 *      F3 clear(flag) once done waiting
 *
 * All four are sequentially consistent Atomics operations. If P's E2 reads 0, T's F1 comes after
 * it in the total order, hence after E1, and T's check F2 (and the doorbell's W2) sees C: no
 * wake-up is lost. A flag left set only costs a wake that finds nothing (the old behaviour).
 */
import { spanBytes } from './ring/layout.js';

export const WakeFlag = {
  /**
   * The token worker is reading the submit ring (the Packer is not refusing) and a wake would make
   * a submission leave sooner (an idle ring, or none operational). Main rings it.
   */
  tokenTakesSubmissions: 0,
  /** The token worker waits for room in the out ring or the frame ring. Net and delivery ring it. */
  tokenWantsRoom: 1,
  /** The main thread waits for room in the submit ring (writable). The token worker rings it. */
  mainWantsRoom: 2,
  /** The delivery worker waits for room in the delivery ring. The main thread rings it. */
  deliveryWantsRoom: 3,
  /**
   * Set once, never cleared: the delivery worker's buffer passed deliveryBufferBytesMax (the
   * application stopped taking deliveries). The token worker announces the leave on seeing it;
   * this goes through shared memory, not the main thread, because the main thread is the one
   * that stopped.
   */
  slowConsumer: 4,
} as const;
export type WakeFlag = (typeof WakeFlag)[keyof typeof WakeFlag];

const flagCount = 5;
/** Ints between two flags: each word alone on a 128-byte span, as the ring trailer words. */
const stride = spanBytes / 4;

export class WakeFlags {
  static create(): WakeFlags {
    return new WakeFlags(new SharedArrayBuffer(flagCount * spanBytes));
  }

  private readonly words: Int32Array;

  constructor(readonly sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab);
  }

  set(flag: WakeFlag): void {
    Atomics.store(this.words, flag * stride, 1);
  }

  clear(flag: WakeFlag): void {
    Atomics.store(this.words, flag * stride, 0);
  }

  isSet(flag: WakeFlag): boolean {
    return Atomics.load(this.words, flag * stride) !== 0;
  }
}

/**
 * Wake-ups between the threads a ring links, without spinning. One doorbell word per waiting thread
 * serves every ring that thread waits on: a consumer thread reading four rings sleeps on one word,
 * and each of the four producers rings it. The same mechanism serves a producer waiting for room:
 * it sleeps on its own doorbell and the consumer rings that one after read().
 *
 * The word is an Int32: awake (0) or sleeping (1). It lives in a ring's trailer (the "sleeping"
 * span; Doorbell.ofRing) or in a SharedArrayBuffer of its own (Doorbell.create), so it is passed to
 * workers through workerData like the rings: { sab, byteOffset }.
 *
 * Protocol (all steps are Atomics operations, which are sequentially consistent):
 *
 *   waiter                                   waker (after every commit, or every read for room)
 *   W1 store(word, sleeping)                 R1 make the work visible: the ring's commit store
 *   W2 re-check every watched ring;             (positive length) or head store
 *      work found -> store(word, awake),     R2 if load(word) !== sleeping: done (common path,
 *      return 'ready'                           one load, no read-modify-write)
 *   W3 Atomics.wait(word, sleeping, t)       R3 if compareExchange(word, sleeping, awake)
 *      (returns at once unless the word         === sleeping: Atomics.notify(word)
 *      still holds sleeping)
 *   W4 store(word, awake); caller polls its rings whatever the outcome
 *
 * Why no wake-up is lost: W1 precedes W2 and R1 precedes R2 in one total order, so either the
 * waker's R2 sees sleeping, or the waiter's W2 sees the work (the Dekker pattern); both may happen.
 * If R2 sees sleeping, R3 flips the word back to awake before notifying. If that flip lands
 * before W3, Atomics.wait finds the word changed and returns at once ('not-equal'); if after, the
 * waiter is already parked in W3 and the notify wakes it. Atomics.wait compares and parks
 * atomically, so there is no gap between "word still sleeping" and "parked" for a notify to fall
 * into. What can happen
 * is a spurious wake: a waker that flipped the word for one sleep may notify during the next one.
 * That costs one empty poll, never a lost record, which is why W4's caller always polls.
 *
 * A waker must therefore ring after the store that publishes its work, never before it, and must
 * not skip ringing for a batch before it stops producing (it may ring once per batch).
 * The re-check in W2 looks for committed records only (SpscRing.hasReadable), not for an open
 * claim: otherwise a waiter would loop on a record its producer is still writing; the producer's R2
 * after its commit covers that record.
 *
 * waitSync uses Atomics.wait: for workers without an event loop (it blocks the thread, timers and
 * messages included; such a worker takes its control messages from a ring or receiveMessageOnPort).
 * waitAsync uses Atomics.waitAsync: for threads that own sockets and for the main thread. Node does
 * not count a pending Atomics.waitAsync as a reference on the event loop: a worker (or process)
 * whose only pending work is this promise exits. Callers hold a ref while they wait, e.g. a
 * MessagePort listener or a ref'd timer.
 */
import { assert } from '../../engine/assert.js';
import { sleepingOffset, spanBytes } from './layout.js';
import type { SpscRing } from './spsc-ring.js';

/** What a wait ended with. 'ready': the re-check found work, no park. 'woken': parked (or about to)
 * and a waker flipped the word; may be spurious. 'timed-out': nobody rang within timeoutMs. */
export type WaitOutcome = 'ready' | 'woken' | 'timed-out';

const awake = 0;
const sleeping = 1;

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs?: number,
) => WaitAsyncResult;

// Atomics.waitAsync is in Node 20 (V8) but only in TypeScript's ES2024 lib; we target ES2022.
const atomicsWaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync.bind(Atomics);

export class Doorbell {
  /** A doorbell word on a 128-byte SharedArrayBuffer of its own. */
  static create(): Doorbell {
    return new Doorbell(new SharedArrayBuffer(spanBytes), 0);
  }

  /** The word in ring's trailer: for the consumer of that ring (and of any others it reads). */
  static ofRing(ring: SpscRing): Doorbell {
    return new Doorbell(ring.sab, ring.capacityBytes + sleepingOffset);
  }

  readonly sab: SharedArrayBuffer;
  readonly byteOffset: number;
  private readonly words: Int32Array;
  private readonly slot: number;
  private readonly rings: SpscRing[] = [];
  private readonly anyReadable = (): boolean => {
    for (const ring of this.rings) if (ring.hasReadable()) return true;
    return false;
  };

  /** Attaches to a doorbell word, e.g. { sab, byteOffset } received through workerData. */
  constructor(sab: SharedArrayBuffer, byteOffset: number) {
    if (!Number.isInteger(byteOffset) || byteOffset % 4 !== 0 || byteOffset + 4 > sab.byteLength) {
      throw new RangeError(`doorbell: byteOffset must be an Int32 slot, got ${byteOffset}`);
    }
    this.sab = sab;
    this.byteOffset = byteOffset;
    this.words = new Int32Array(sab);
    this.slot = byteOffset / 4;
  }

  /** Waiter side: adds a ring the default re-check (W2) looks at. Returns this for chaining. */
  watch(ring: SpscRing): this {
    this.rings.push(ring);
    return this;
  }

  /**
   * Waker side (R2, R3): call after the Atomics store that publishes work (commit, or read() for a
   * producer waiting for room). Returns whether it notified, i.e. whether the waiter had said it
   * sleeps and this call was the one to flip it awake.
   */
  wake(): boolean {
    // R2: the common path, one sequentially consistent load. It cannot miss a waiter: see the
    // protocol above (this load is ordered after the store that published the work).
    if (Atomics.load(this.words, this.slot) !== sleeping) return false;
    // R3: flip first, so a waiter not yet parked finds the word changed and does not park; only the
    // one waker that flips it notifies, so several producers do not all make the syscall.
    if (Atomics.compareExchange(this.words, this.slot, sleeping, awake) !== sleeping) return false;
    Atomics.notify(this.words, this.slot);
    return true;
  }

  /** Whether the waiter has said it sleeps (W1 done, W4 not yet). For tests and diagnostics. */
  isSleeping(): boolean {
    return Atomics.load(this.words, this.slot) === sleeping;
  }

  /**
   * Waiter side, blocking the thread (Atomics.wait): for workers without an event loop. Parks until
   * a waker rings or timeoutMs passes (Infinity: no timeout), unless ready() (default: a watched
   * ring has a committed record) already holds after the sleeping flag is set. The caller polls its
   * rings after any outcome.
   */
  waitSync(timeoutMs: number, ready: () => boolean = this.defaultReady()): WaitOutcome {
    if (this.enterSleep(ready)) return 'ready';
    // W3: parks only if the word still says sleeping; a waker's flip after W1 makes this return
    // 'not-equal' at once, and a flip after we park comes with a notify.
    const result = Atomics.wait(this.words, this.slot, sleeping, timeoutMs);
    this.leaveSleep();
    return result === 'timed-out' ? 'timed-out' : 'woken';
  }

  /**
   * Waiter side, not blocking (Atomics.waitAsync): for threads owning sockets, and the main thread.
   * Same contract as waitSync. The pending promise does not keep the thread alive: hold a ref.
   */
  waitAsync(timeoutMs: number, ready: () => boolean = this.defaultReady()): Promise<WaitOutcome> {
    if (this.enterSleep(ready)) return Promise.resolve('ready');
    // W3, as in waitSync; the comparison with sleeping and the registration of the waiter are one
    // atomic step in the engine, so a notify cannot slip in between.
    const result = atomicsWaitAsync(this.words, this.slot, sleeping, timeoutMs);
    if (!result.async) {
      this.leaveSleep();
      return Promise.resolve(result.value === 'timed-out' ? 'timed-out' : 'woken');
    }
    return result.value.then((value) => {
      this.leaveSleep();
      return value === 'timed-out' ? 'timed-out' : 'woken';
    });
  }

  /** W1 and W2. Returns true (and is awake again) when there is work. */
  private enterSleep(ready: () => boolean): boolean {
    assert(!this.isSleeping(), 'doorbell: one waiter per word, not already sleeping');
    // W1: must precede the re-check; a waker that misses this store is one whose work W2 sees.
    Atomics.store(this.words, this.slot, sleeping);
    if (ready()) {
      // Work arrived between the caller's last poll and W1. A waker may also have flipped the word
      // already (and notified nobody); storing awake again is harmless.
      Atomics.store(this.words, this.slot, awake);
      return true;
    }
    return false;
  }

  /** W4: wakers that still see sleeping after a timeout would notify nobody; say we are awake. */
  private leaveSleep(): void {
    Atomics.store(this.words, this.slot, awake);
  }

  private defaultReady(): () => boolean {
    if (this.rings.length === 0) {
      throw new Error('doorbell: no watched ring and no ready() check: the wait could miss work');
    }
    return this.anyReadable;
  }
}

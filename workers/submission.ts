/**
 * The submit path on the main thread: submit(), join() and leave() write into the submit ring
 * (main → token worker) and return false when it cannot take the record (backpressure); a
 * submission longer than partChunkBytes goes as parts, the rest written by the pump as the token
 * worker frees room; `writable` is called once a refused record would fit again.
 *
 * A room of its own because it is the one hot path the application calls directly, and because
 * its rules (submitQueueBytesMax, the half-empty writable threshold, the wake flags on both
 * sides) are read together. Nothing here blocks: a refusal is the only answer to a full ring.
 */
import { GroupNameEncoder } from '../engine/groups/group-names.js';
import type { Order } from '../engine/types.js';
import { TotemError } from './errors.js';
import type { Logger } from './logger.js';
import { Doorbell } from './ring/doorbell.js';
import type { SpscRing } from './ring/spsc-ring.js';
import { ChunkWriter, partHeaderBytes } from './ring/chunks.js';
import { WakeFlag, WakeFlags } from './wake-flags.js';
import { encodeSubmitHead, encodeSubmitMessage, partChunkBytes, RecordType, submitRecordBytes } from './records.js';
import { deliveryBacklogBytesMax, submitQueueBytesMax } from './runtime-sizing.js';
import type { NodeRings } from './runtime-sizing.js';
import type { RuntimeEvents } from './runtime-types.js';
import type { Lifecycle } from './teardown.js';

/** Whether a submission of lengthBytes may join usedBytes already queued (submitQueueBytesMax). */
function submitFits(usedBytes: number, lengthBytes: number): boolean {
  return usedBytes === 0 || usedBytes + lengthBytes <= submitQueueBytesMax;
}

export class Submission {
  /** Application messages accepted (the counter of the last one). */
  submitted = 0;
  private readonly ring: SpscRing;
  /** Read only for its occupancy: the application's backlog (deliveryBacklogBytesMax). */
  private readonly deliveryRing: SpscRing;
  /**
   * Writes a submission longer than partChunkBytes as parts. While it is open (the ring had no
   * room for all of it) the pump writes the rest as the token worker frees room, and submit(),
   * join() and leave() refuse: nothing may overtake it, and the token worker reassembles a
   * message only from consecutive records.
   */
  private readonly writer: ChunkWriter;
  private readonly mainBell: Doorbell;
  private readonly tokenBell: Doorbell;
  private readonly flags: WakeFlags;
  private readonly names = new GroupNameEncoder();
  private readonly messageBytesMax: number;
  private writableWanted = false;
  /**
   * Whether submit() looks at the delivery backlog. Not for the first message after `writable`:
   * the backlog can grow again without the main thread doing anything (a large message delivered
   * in parts fills the delivery ring by itself), and `writable` promises that the refused record
   * is taken.
   */
  private backlogChecked = true;
  private refusedBytes = 0;

  constructor(
    private readonly nodeId: number,
    rings: NodeRings,
    messageBytesMax: number,
    private readonly lifecycle: Lifecycle,
    private readonly events: RuntimeEvents,
    private readonly logger: Logger,
  ) {
    this.ring = rings.submit;
    this.deliveryRing = rings.delivery;
    this.writer = new ChunkWriter(this.ring, RecordType.submitPart, partChunkBytes);
    const b = rings.shared.bells;
    this.mainBell = new Doorbell(b.main.sab, b.main.byteOffset);
    this.tokenBell = new Doorbell(b.token.sab, b.token.byteOffset);
    this.flags = new WakeFlags(rings.shared.flags);
    this.messageBytesMax = messageBytesMax;
  }

  submit(group: string, payload: Uint8Array, order: Order): boolean {
    this.checkOpen();
    if (payload.length > this.messageBytesMax) {
      throw new TotemError(
        'TOTEM_ERR_PAYLOAD_TOO_LARGE',
        `payload of ${payload.length} bytes exceeds messageBytesMax ${this.messageBytesMax}`,
        { details: { bytes: payload.length, bytesMax: this.messageBytesMax } },
      );
    }
    const name = this.names.encode(group);
    const length = submitRecordBytes(name, payload);
    const ring = this.ring;
    if (this.writer.open || !submitFits(ring.usedBytes(), length)) return this.refused(length);
    if (this.backlogChecked && this.deliveryRing.usedBytes() > deliveryBacklogBytesMax) return this.refused(length);
    if (length > partChunkBytes) return this.submitChunked(name, payload, order);
    // Encoded straight into the ring: the one copy of the payload on this thread.
    const offset = ring.tryClaim(RecordType.submitMessage, length);
    if (offset === null) return this.refused(length);
    encodeSubmitMessage(ring.buffer, offset, order, name, payload);
    ring.commit();
    this.wakeToken();
    this.submitted++;
    this.backlogChecked = true;
    return true;
  }

  join(group: string): boolean {
    return this.control(RecordType.submitJoin, group);
  }

  leave(group: string): boolean {
    return this.control(RecordType.submitLeave, group);
  }

  /**
   * For the pump's doorbell re-check: whether it has submission work, i.e. part of a large
   * submission can be written, or a refused caller waits for `writable` and would now be told.
   * While closing, `writable` is never emitted (checkWritable returns early): counting it as work
   * then would make the pump resume forever without yielding, and close() would never settle.
   */
  pumpHasWork(): boolean {
    return this.writer.canWriteNext() || (this.writableWanted && !this.lifecycle.closing && this.hasRoom());
  }

  /**
   * Writes more of the submission the submit ring had no room for, as far as the token worker
   * has freed room; goes on while closing (the message was accepted). Returns records written.
   */
  continueWriting(): number {
    const writer = this.writer;
    if (!writer.open) return 0;
    const count = writer.writeSome();
    if (count > 0) this.wakeToken();
    // Done: the token worker need not ring for room any more, unless a refusal waits for it.
    if (!writer.open && !this.writableWanted) this.flags.clear(WakeFlag.mainWantsRoom);
    return count;
  }

  /** Calls `writable` once a refused caller's record would be taken again. */
  checkWritable(): void {
    if (!this.writableWanted || this.lifecycle.closing) return;
    if (!this.hasRoom()) return;
    this.writableWanted = false;
    this.backlogChecked = false;
    // hasRoom() holds, so no submission is being written either.
    this.flags.clear(WakeFlag.mainWantsRoom);
    try {
      this.events.writable();
    } catch (err) {
      this.logger.error('the writable callback threw', { err });
    }
  }

  private checkOpen(): void {
    const lifecycle = this.lifecycle;
    if (lifecycle.closing) {
      throw new TotemError('TOTEM_ERR_CLOSED', `node ${this.nodeId} is ${lifecycle.failure === null ? 'closing' : 'stopped'}`);
    }
  }

  /**
   * No submission still being written, room for the refused record (for one longer than a
   * chunk, for its first part: the rest follows as the ring drains), and the ring at most half
   * full: without the last condition a sender at full speed would be told writable for every few
   * records the token worker takes, and spend the main thread on a refusal and a callback per
   * batch. Likewise the application's backlog in the delivery ring at most half its bound.
   */
  private hasRoom(): boolean {
    if (this.writer.open) return false;
    if (this.deliveryRing.usedBytes() > deliveryBacklogBytesMax / 2) return false;
    const ring = this.ring;
    const used = ring.usedBytes();
    const firstRecordBytes = Math.min(this.refusedBytes, partHeaderBytes + partChunkBytes);
    return ring.canClaim(firstRecordBytes) && used <= submitQueueBytesMax / 2 &&
      submitFits(used, this.refusedBytes);
  }

  private refused(lengthBytes: number): false {
    this.writableWanted = true;
    this.refusedBytes = lengthBytes;
    // F1, then F2 (wake-flags.ts): a read of the token worker between the refusal and the flag
    // did not ring; if it made room, the pump must still see it.
    this.flags.set(WakeFlag.mainWantsRoom);
    if (this.hasRoom()) this.mainBell.wake();
    return false;
  }

  /** After a commit to the submit ring: ring the token worker only if it takes submissions. */
  private wakeToken(): void {
    if (this.flags.isSet(WakeFlag.tokenTakesSubmissions)) this.tokenBell.wake();
  }

  /**
   * A submission longer than partChunkBytes: as many parts as the ring has room for now, the rest
   * from the pump as the token worker frees room (never a wait on this thread). It is accepted at
   * once, like any submission that found room: submitFits held, so it is not queued behind more
   * than submitQueueBytesMax (a record above that only into an empty ring). The caller may reuse
   * its payload once this returns, so the part not yet written is copied (detach): one copy of at
   * most the message, for a message the ring could not take whole.
   */
  private submitChunked(name: Uint8Array, payload: Uint8Array, order: Order): true {
    const writer = this.writer;
    writer.begin(RecordType.submitMessage, [encodeSubmitHead(order, name), payload]);
    if (writer.writeSome() > 0) this.wakeToken();
    if (writer.open) {
      writer.detach();
      // F1, then F2 (wake-flags.ts): the token worker rings after its reads only once the flag
      // is set; room it made before that is seen here.
      this.flags.set(WakeFlag.mainWantsRoom);
      if (writer.canWriteNext()) this.mainBell.wake();
    }
    this.submitted++;
    this.backlogChecked = true;
    return true;
  }

  private control(type: number, group: string): boolean {
    this.checkOpen();
    const name = this.names.encode(group);
    if (this.writer.open || !this.ring.write(type, name)) return this.refused(name.length);
    this.wakeToken();
    return true;
  }
}

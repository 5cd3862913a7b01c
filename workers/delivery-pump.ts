/**
 * The delivery pump: the main thread's one loop. It reads the delivery ring (delivery worker →
 * main) and calls RuntimeEvents deliver / configuration / groupEvent in ring order, writes the
 * rest of a large submission as the token worker frees room, tells a refused caller `writable`,
 * and otherwise waits on the main thread's doorbell with Atomics.waitAsync.
 *
 * A room of its own because it is the only code that runs the application's callbacks, and the
 * only waiting the main thread does. It never blocks: callbacks run in bounded batches with a turn
 * of the event loop between batches, so a flood of deliveries does not starve the application's
 * other work. A pending waitAsync does not keep the thread alive; the Worker handles (ref'd until
 * the node stops) do.
 */
import { GroupNameDecoder } from '../engine/groups/group-names.js';
import { TotemError } from './errors.js';
import type { Logger } from './logger.js';
import { Doorbell } from './ring/doorbell.js';
import type { SpscRing } from './ring/spsc-ring.js';
import { ChunkReader } from './ring/chunks.js';
import { WakeFlag, WakeFlags } from './wake-flags.js';
import {
  chunkedRecordBytesMax,
  decodeConfiguration,
  decodeDelivery,
  decodeGroupEvent,
  membershipStates,
  RecordType,
  ringView,
} from './records.js';
import type { NodeRings } from './runtime-sizing.js';
import type { RuntimeEvents } from './runtime-types.js';
import type { Submission } from './submission.js';

/** Delivery-ring records per callback batch before yielding to the event loop. */
export const deliveryBatchMax = 256;

export class DeliveryPump {
  private readonly ring: SpscRing;
  private readonly reader: ChunkReader;
  private readonly view: DataView;
  private readonly mainBell: Doorbell;
  private readonly deliveryBell: Doorbell;
  private readonly flags: WakeFlags;
  private readonly groupNames = new GroupNameDecoder();
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  private readonly onRecord = (
    type: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    owned: boolean,
  ): void => {
    try {
      if (type === RecordType.deliveryMessage) {
        // owned: a record reassembled from parts, in an array of its own (not the ring's).
        const view = owned ? ringView(buffer) : this.view;
        this.events.deliver(decodeDelivery(view, buffer, offset, length, this.groupOf, owned));
      } else if (type === RecordType.deliveryConfiguration) {
        this.events.configuration(decodeConfiguration(buffer, offset, length));
      } else if (type === RecordType.deliveryGroupEvent) {
        this.events.groupEvent(decodeGroupEvent(buffer, offset, length));
      } else if (type === RecordType.deliveryRingState) {
        const state = membershipStates[buffer[offset] as number];
        if (state === undefined) throw new TotemError('TOTEM_ERR_WORKER_DIED', `unknown ring state ${buffer[offset]}`);
        this.events.ringState?.(state);
      } else {
        throw new TotemError('TOTEM_ERR_WORKER_DIED', `unknown delivery record type ${type}`);
      }
    } catch (err) {
      if (err instanceof TotemError) throw err;
      // The application's callback threw: that is its bug, not the node's; say so and go on, since
      // stopping the pump would stall the whole node behind a full delivery ring.
      this.logger.error('a runtime callback threw', { err });
    }
  };

  private readonly groupOf = (bytes: Uint8Array, start: number, length: number): string => {
    const name = this.groupNames.decode(bytes, start, length);
    if (name === null) throw new TotemError('TOTEM_ERR_WORKER_DIED', 'a delivered group name is not UTF-8');
    return name;
  };

  /** The doorbell re-check (W2): anything for the pump to do. */
  private readonly ready = (): boolean =>
    this.stopped || this.ring.hasReadable() || this.submission.pumpHasWork();

  constructor(
    rings: NodeRings,
    messageBytesMax: number,
    private readonly submission: Submission,
    private readonly events: RuntimeEvents,
    private readonly logger: Logger,
    /** A fatal error found on the way (a corrupt record): teardown.ts. */
    private readonly fail: (err: TotemError) => void,
  ) {
    this.ring = rings.delivery;
    this.reader = new ChunkReader(this.ring, RecordType.deliveryPart, chunkedRecordBytesMax(messageBytesMax));
    this.view = ringView(this.ring.buffer);
    const b = rings.shared.bells;
    this.mainBell = new Doorbell(b.main.sab, b.main.byteOffset);
    this.deliveryBell = new Doorbell(b.delivery.sab, b.delivery.byteOffset);
    this.flags = new WakeFlags(rings.shared.flags);
  }

  start(): void {
    this.done = this.run();
  }

  /** Stops the pump (wakes it if it is parked); `finished` resolves once it has returned. */
  stop(): void {
    this.stopped = true;
    // Wakes the pump if it is parked in waitAsync (it then sees stopped).
    this.mainBell.wake();
  }

  get finished(): Promise<void> {
    return this.done;
  }

  /**
   * Reads up to countMax delivery-ring records and makes their callbacks. Returns records read;
   * a corrupt record is fatal (0 is returned).
   */
  drain(countMax: number): number {
    let count = 0;
    try {
      count = this.reader.read(this.onRecord, countMax);
    } catch (err) {
      this.fail(err instanceof TotemError ? err : new TotemError('TOTEM_ERR_WORKER_DIED', String(err)));
      return 0;
    }
    // After read()'s head store, and only if the delivery worker waits for room (wake-flags.ts).
    if (count > 0 && this.flags.isSet(WakeFlag.deliveryWantsRoom)) this.deliveryBell.wake();
    return count;
  }

  private async run(): Promise<void> {
    const submission = this.submission;
    while (!this.stopped) {
      const count = this.drain(deliveryBatchMax);
      const written = submission.continueWriting();
      submission.checkWritable();
      if (count > 0 || written > 0) {
        // A turn of the event loop between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await this.mainBell.waitAsync(Infinity, this.ready);
    }
  }
}

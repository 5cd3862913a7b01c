/**
 * The seam between the public API (api/, main thread) and the threaded runtime (workers/).
 *
 * The runtime runs one node on three worker threads linked by SharedArrayBuffer rings:
 *
 *   main thread (api/) ──submit ring──► token worker ──frame ring──► delivery worker
 *        ▲                               ▲        │                        │
 *        └────────────── delivery ring ──┼────────┼────────────────────────┘
 *                                  in ring│        │out ring
 *                                         │        ▼
 *                                       net worker (UDP sockets, packet authentication)
 *
 * The API holds a NodeRuntime and never sees a ring, a worker or a socket. Everything here is
 * asynchronous from the main thread's point of view except submit/join/leave, which only write
 * into the submit ring and return false when it is full (the API turns that into backpressure).
 */
import type { TokenHopStamps } from './token-hops.js';
import type {
  AppDelivery,
  ConfigurationChange,
  EngineStats,
  Order,
  GroupEvent,
  MembershipState,
  NodeId,
} from '../engine/types.js';

/** Callbacks the runtime makes on the main thread, in the node's delivery order. */
export interface RuntimeEvents {
  /**
   * An application message of a group this node belongs to (`local` deliveries only). The
   * payload is the caller's to keep (copied out of the ring).
   */
  deliver(delivery: AppDelivery): void;
  /** Every ring configuration, at its place among the deliveries. */
  configuration(change: ConfigurationChange): void;
  groupEvent(event: GroupEvent): void;
  /**
   * The engine's membership state changed (reported once per token-worker turn, in order with
   * the configurations): anything but 'operational' means the ring is re-forming and no message
   * is delivered, so sends wait. Optional for stand-in runtimes.
   */
  ringState?(state: MembershipState): void;
  /** The submit ring has room again after submit/join/leave returned false. */
  writable(): void;
  /**
   * A fatal error (a worker died, the engine broke an invariant, the socket failed). The runtime
   * has shut down when this is called; `error` carries a stable `code` (TotemError).
   */
  fatal(error: Error): void;
}

/** Occupancy of one ring buffer, readable at any time without stopping the node. */
export interface RingOccupancy {
  name: string;
  usedBytes: number;
  capacityBytes: number;
}

export interface RuntimeStats {
  engine: EngineStats;
  /** Net worker counters: datagrams and bytes in and out, authentication drops, receive buffer granted. */
  net: {
    datagramsIn: number;
    datagramsOut: number;
    bytesIn: number;
    bytesOut: number;
    authFailures: number;
    replays: number;
    sendErrors: number;
    receiveBufferBytes: number;
    /**
     * Datagrams the net worker dropped, by reason (workers/net/ingress-gate.ts netDropReasons:
     * own_packet, unlisted, address_mismatch, not_for_me, auth_failed, replay, ...). Optional so
     * that stand-in runtimes need not fill it.
     */
    dropped?: Record<string, number>;
    /** Warnings about received datagrams held back by the rate limit (net/warn-limiter.ts). */
    warningsHeldBack?: number;
  };
  /** Application messages submitted (counter of the last one) and delivered here. */
  messagesSubmitted: number;
  messagesDelivered: number;
  rings: RingOccupancy[];
  /**
   * Packets the runtime itself dropped (not the network): a datagram that found the in ring full,
   * an outbound packet that found the out ring full for too long (the protocol retransmits both),
   * and an authenticated datagram whose engine header names another sender than the one that
   * sealed it. Optional so that stand-in runtimes need not fill it.
   */
  drops?: { inRingFull: number; outRingFull: number; senderMismatch: number };
  /**
   * The delivery worker's buffer of records the delivery ring had no room for (the application
   * was not taking its deliveries): bytes now, the most at once, records that went through it,
   * and the bound (deliveryBufferBytesMax). Optional so that stand-in runtimes need not fill it.
   */
  deliveryBuffer?: { bytes: number; bytesPeak: number; recordsSpilled: number; bytesMax: number };
  /**
   * The trace file's ordering (only with a trace directory): `conf` lines the delivery worker
   * wrote without the main thread having applied every earlier delivery, because it waited the
   * bound (2 s) in vain. Each one may put a `conf` line before lock lines that belong ahead of
   * it. Optional so that stand-in runtimes need not fill it.
   */
  trace?: { orderWaitsTimedOut: number };
  /**
   * The token's path through this node, sampled (workers/token-hops.ts): the last stamps of each
   * kind, for the benchmark's token hop anatomy. Only when asked for (stats({ tokenHops: true })).
   */
  tokenHops?: TokenHopStamps;
}

export interface NodeRuntime {
  readonly nodeId: NodeId;
  /** This incarnation (start time in ms); message ids are `<nodeId>:<incarnation>:<counter>`. */
  readonly incarnation: number;
  /**
   * Queue an application message. Returns false when the submit ring is full, or while the
   * application is more than deliveryBacklogBytesMax behind on its deliveries (try again after
   * `writable`: the first message after it is not held back by the backlog). Counters are assigned in submission order from 1, so the Nth accepted submit of
   * this incarnation has counter N.
   */
  submit(group: string, payload: Uint8Array, order: Order): boolean;
  join(group: string): boolean;
  leave(group: string): boolean;
  /** `tokenHops`: include the token hop stamps (RuntimeStats.tokenHops), for the benchmark. */
  stats(options?: { tokenHops?: boolean }): Promise<RuntimeStats>;
  /**
   * Stop: no more submissions are taken; messages already submitted are broadcast and the call
   * waits (up to `drainTimeoutMs`) until this node has delivered its own messages, then stops the
   * workers and closes the socket. Resolves with how many submitted messages were not delivered
   * here before the stop (0 on a clean drain). Idempotent.
   */
  close(drainTimeoutMs: number): Promise<{ undelivered: number }>;
  /**
   * The application holds more than deliveryBufferBytesMax unread on the main thread (an
   * iterator nobody reads): leave the ring and fail with TOTEM_ERR_SLOW_CONSUMER, as when the
   * delivery worker's own buffer overflows. Optional for stand-in runtimes.
   */
  reportSlowConsumer?(details: SlowConsumerDetails): void;
}

/** Why a node gave up on its application (TOTEM_ERR_SLOW_CONSUMER details). */
export interface SlowConsumerDetails {
  bufferedBytes: number;
  bytesMax: number;
  /** How long the application had not taken a delivery, in ms. */
  notReadMs: number;
  /** 'runtime': the delivery worker's buffer; 'iterator': an iterator's, named by `of`. */
  where: 'runtime' | 'iterator';
  of?: string;
}

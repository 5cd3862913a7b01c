/**
 * A stand-in for TotemNode in the simulator's own tests: every node is a singleton ring that
 * broadcasts its queued messages at every heartbeat (so the network carries real traffic) and
 * delivers only its own, in counter order. Its traces satisfy EVS trivially, which lets the tests exercise the harness —
 * clock, network, crashes, restarts, the disk, tracing, refused submits — independently of the
 * real engine.
 *
 * Packet layout (byte 1 is the packet type, as in the real wire format):
 *   [0] version 1, [1] type (2 = message, 1 = heartbeat), [2..5] sender, [6..9] counter,
 *   [10] guarantee (0 agreed, 1 safe), [11] group length, group bytes, payload.
 */
import type { EngineConfigInput } from '../../engine/config.js';
import type { Order, NodeHost, RingId } from '../../engine/types.js';
import type { SimNode } from './cluster.js';

const heartbeatPeriodMs = 100;
/** Queued messages above which submit() refuses, as a full send queue would. */
const queuedMax = 8;

export class FakeNode implements SimNode {
  private readonly id: number;
  private readonly incarnation: number;
  private ringId: RingId;
  private counterLast = 0;
  private deliveredLast = 0;
  private nextHeartbeatMs = Infinity;
  /** Messages wait for the next heartbeat, as real ones wait for the token. */
  private readonly queue: Uint8Array[] = [];
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(
    config: EngineConfigInput,
    private readonly host: NodeHost,
  ) {
    this.id = config.nodeId;
    this.incarnation = config.incarnation ?? 1;
    this.ringId = { rep: this.id, seq: (config.ringSeqInitial ?? 0n) + 4n };
  }

  start(nowMs: number): void {
    this.host.storeRingSeq(this.ringId.seq);
    this.host.configuration({ kind: 'regular', ringId: this.ringId, members: [this.id], joined: [this.id], left: [], cause: 'start', causeNodes: [] });
    this.nextHeartbeatMs = nowMs + heartbeatPeriodMs;
  }

  onPacket(_nowMs: number, bytes: Uint8Array): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes[1] !== 2 || view.getUint32(2) !== this.id) return;
    const counter = view.getUint32(6);
    if (counter !== this.deliveredLast + 1) return;
    this.deliveredLast = counter;
    const groupBytes = bytes[11] ?? 0;
    this.host.deliver({
      sender: this.id,
      incarnation: this.incarnation,
      counter,
      group: this.decoder.decode(bytes.subarray(12, 12 + groupBytes)),
      order: bytes[10] === 1 ? 'safe' : 'agreed',
      payload: bytes.slice(12 + groupBytes),
      ringId: this.ringId,
      transitional: false,
      local: true,
    });
  }

  onTimer(nowMs: number): void {
    if (nowMs < this.nextHeartbeatMs) return;
    this.host.send(this.id, Uint8Array.of(1, 1, 0, 0, 0, 0), true);
    // To everyone, itself included: the loopback copy is the one delivered.
    for (const bytes of this.queue.splice(0)) this.host.send(0, bytes, true);
    this.nextHeartbeatMs = nowMs + heartbeatPeriodMs;
  }

  nextTimerMs(): number {
    return this.nextHeartbeatMs;
  }

  submit(group: string, payload: Uint8Array, order: Order): number | false {
    if (this.queue.length >= queuedMax) return false;
    const counter = ++this.counterLast;
    const groupBytes = this.encoder.encode(group);
    const bytes = new Uint8Array(12 + groupBytes.length + payload.length);
    const view = new DataView(bytes.buffer);
    bytes[0] = 1;
    bytes[1] = 2;
    view.setUint32(2, this.id);
    view.setUint32(6, counter);
    bytes[10] = order === 'safe' ? 1 : 0;
    bytes[11] = groupBytes.length;
    bytes.set(groupBytes, 12);
    bytes.set(payload, 12 + groupBytes.length);
    this.queue.push(bytes);
    return counter;
  }

  joinGroup(_group: string): void {}
}

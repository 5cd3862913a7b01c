/**
 * A whole totem-evs node in one thread: the ordering and membership layer (srp/) plus the group
 * layer (groups/). The simulator and the in-memory benchmark drive it directly.
 *
 * Driving contract: call start(now) once; then onPacket(now, bytes) for each received packet and
 * onTimer(now) whenever now >= nextTimerMs(). `now` never goes backwards. Every effect is a
 * synchronous call on the host.
 */
import type { EngineConfigInput } from './config.js';
import type { EngineStats, Guarantee, NodeHost } from './types.js';

export class TotemNode {
  constructor(config: EngineConfigInput, host: NodeHost) {
    void config;
    void host;
    throw new Error('TotemNode: not implemented yet');
  }
  start(nowMs: number): void {
    void nowMs;
  }
  onPacket(nowMs: number, bytes: Uint8Array): void {
    void nowMs;
    void bytes;
  }
  onTimer(nowMs: number): void {
    void nowMs;
  }
  /** Absolute time (same clock as `now`) of the earliest armed timer; Infinity when none. */
  nextTimerMs(): number {
    return Infinity;
  }
  /** Queue an application message; returns its per-incarnation counter, or false when the send queue is full. */
  submit(group: string, payload: Uint8Array, guarantee: Guarantee): number | false {
    void group;
    void payload;
    void guarantee;
    return false;
  }
  joinGroup(group: string): void {
    void group;
  }
  leaveGroup(group: string): void {
    void group;
  }
  stats(): EngineStats {
    throw new Error('not implemented');
  }
}

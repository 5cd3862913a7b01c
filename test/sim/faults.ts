/**
 * Fault schedules, one per mix, drawn from the seed:
 * - `none`: a perfect network (1 ms per hop, no loss), no crash.
 * - `loss`: loss 0–10 %, duplication, reordering through delay jitter, per-link variations.
 * - `partition`: random splits (two or three sides, one node isolated, or asymmetric blocks of
 *   single directions), each followed by a heal.
 * - `crash`: nodes crash and restart, some at random times and some right after a configuration
 *   change, i.e. in the middle of the next membership round.
 * - `mixed`: all of the above, plus token-loss storms (near-total loss of token packets); in
 *   about 30 % of the seeds the adversary (adversary.ts) acts too, at a lower rate.
 * - `hostile`: `mixed`'s faults and the adversary in every seed, at full rate.
 * - `leave`: as `crash` under `loss`, but half of the stops are graceful leaves (close(): the node
 *   drains its own messages, announces its leave and stops) instead of crashes.
 *
 * Faults act only in the safety phase. converge() then makes the network perfect, restarts some
 * crashed nodes and leaves the others down, so that the convergence phase can require the live
 * nodes to settle into one ring.
 */
import type { ConfigurationChange } from '../../engine/types.js';
import type { Cluster } from './cluster.js';
import type { LinkFaults } from './network.js';
import type { Prng } from './prng.js';
import type { VirtualClock } from './virtual-clock.js';

export const faultMixes = ['none', 'loss', 'partition', 'crash', 'mixed', 'hostile', 'leave'] as const;
export type FaultMix = (typeof faultMixes)[number];

/** How long a leaving node lets its own messages drain before it announces the leave anyway. */
const leaveDrainWaitMs = 1000;

export function isFaultMix(value: string): value is FaultMix {
  return (faultMixes as readonly string[]).includes(value);
}

export class FaultInjector {
  private safety = true;
  private readonly loss: boolean;
  private readonly partitions: boolean;
  private readonly crashes: boolean;
  private readonly storms: boolean;
  /** Half of the stops are graceful leaves (`leave` mix only, so the other mixes draw as before). */
  private readonly leaves: boolean;
  /** Crashes scheduled but not yet done, so that reactive crashes cannot pile up. */
  private crashesPending = 0;

  constructor(
    mix: FaultMix,
    private readonly cluster: Cluster,
    private readonly clock: VirtualClock,
    private readonly prng: Prng,
  ) {
    const all = mix === 'mixed' || mix === 'hostile';
    this.loss = mix === 'loss' || all || mix === 'leave';
    this.partitions = mix === 'partition' || all;
    this.crashes = mix === 'crash' || all || mix === 'leave';
    this.leaves = mix === 'leave';
    this.storms = all;
  }

  /** Schedule this mix's faults over [now, now + durationMs). */
  startSafety(durationMs: number): void {
    const endMs = this.clock.nowMs + durationMs;
    if (this.loss) {
      this.setLossLevel();
      this.every(500, 4000, endMs, () => this.setLossLevel());
    }
    if (this.partitions) this.every(300, 3000, endMs, () => this.partitionEpisode(endMs));
    if (this.crashes) {
      this.every(300, 3000, endMs, () => this.crashEpisode(endMs));
      this.cluster.configurationListeners.push((nodeId, change) => this.onConfiguration(nodeId, change, endMs));
    }
    if (this.storms) this.every(1000, 5000, endMs, () => this.tokenStorm(endMs));
    this.clock.at(endMs, () => {
      this.safety = false;
    });
  }

  /**
   * End of the faults: a perfect network, and each crashed node either restarted within a second
   * or left down for good (at least one node ends up running).
   */
  converge(): void {
    this.safety = false;
    this.cluster.network.calm();
    const down = this.cluster.nodeIds.filter((id) => !this.cluster.isLive(id));
    const liveCount = this.cluster.nodeIds.length - down.length;
    down.forEach((id, index) => {
      const mustRestart = liveCount === 0 && index === 0;
      if (!mustRestart && this.prng.chance(0.5)) return;
      this.clock.after(this.prng.int(0, 1000), () => {
        if (!this.cluster.isLive(id)) this.cluster.start(id);
      });
    });
  }

  /** Run `action` at random intervals in [minMs, maxMs] until `endMs`. */
  private every(minMs: number, maxMs: number, endMs: number, action: () => void): void {
    const next = (): void => {
      const atMs = this.clock.nowMs + this.prng.int(minMs, maxMs);
      if (atMs >= endMs) return;
      this.clock.at(atMs, () => {
        if (!this.safety) return;
        action();
        next();
      });
    };
    next();
  }

  private setLossLevel(): void {
    const network = this.cluster.network;
    const faults: LinkFaults = {
      lossProbability: this.prng.chance(0.2) ? 0 : this.prng.range(0, 0.1),
      duplicateProbability: this.prng.chance(0.5) ? 0 : this.prng.range(0, 0.05),
      delayMs: this.prng.int(1, 3),
      jitterMs: this.prng.chance(0.3) ? 0 : this.prng.int(1, 8),
    };
    network.faults = faults;
    network.clearLinks();
    // A few links worse than the rest: a bad cable, a busy receiver.
    const ids = this.cluster.nodeIds;
    const badLinks = ids.length > 1 ? this.prng.int(0, Math.min(4, ids.length)) : 0;
    for (let i = 0; i < badLinks; i++) {
      const from = this.prng.pick(ids);
      const to = this.prng.pick(ids);
      if (from === to) continue;
      network.setLink(from, to, { lossProbability: this.prng.range(0, 0.1), jitterMs: this.prng.int(0, 20) });
    }
  }

  private partitionEpisode(endMs: number): void {
    const network = this.cluster.network;
    const ids = this.cluster.nodeIds;
    if (ids.length < 2) return;
    const shape = this.prng.int(0, 3);
    if (shape === 0) {
      // Isolate one node.
      const lone = this.prng.pick(ids);
      network.partition([[lone]]);
    } else if (shape === 1) {
      // Two or three sides, random assignment.
      const sideCount = ids.length >= 3 && this.prng.chance(0.3) ? 3 : 2;
      const sides: number[][] = Array.from({ length: sideCount }, () => []);
      for (const id of this.prng.shuffled(ids)) sides[this.prng.int(0, sideCount - 1)]?.push(id);
      network.partition(sides);
    } else if (shape === 2) {
      // Asymmetric: one side cannot hear the other, the other side hears it.
      const shuffled = this.prng.shuffled(ids);
      const cut = this.prng.int(1, ids.length - 1);
      const deaf = shuffled.slice(0, cut);
      const rest = shuffled.slice(cut);
      for (const a of rest) for (const b of deaf) network.block(a, b);
    } else {
      // Random single-direction blocks between pairs.
      const blocks = this.prng.int(1, Math.max(1, ids.length));
      for (let i = 0; i < blocks; i++) network.block(this.prng.pick(ids), this.prng.pick(ids));
    }
    const healMs = Math.min(endMs, this.clock.nowMs + this.prng.int(200, 5000));
    this.clock.at(healMs, () => network.heal());
  }

  private crashEpisode(endMs: number): void {
    const live = this.cluster.liveIds();
    if (this.crashesPending === 0 && live.length > 1 && this.prng.chance(0.7)) {
      this.crashSoon(this.prng.pick(live), 0, endMs);
    }
    // Restart some of the crashed ones.
    for (const id of this.cluster.nodeIds) {
      if (!this.cluster.isLive(id) && this.prng.chance(0.5)) {
        this.clock.after(this.prng.int(0, 2000), () => {
          if (this.safety && !this.cluster.isLive(id)) this.cluster.start(id);
        });
      }
    }
  }

  /** Right after a membership change the next round is often still settling: crash someone then. */
  private onConfiguration(_nodeId: number, change: ConfigurationChange, endMs: number): void {
    if (!this.safety || this.crashesPending > 0) return;
    if (!this.prng.chance(change.kind === 'transitional' ? 0.05 : 0.02)) return;
    const live = this.cluster.liveIds();
    if (live.length < 2) return;
    this.crashSoon(this.prng.pick(live), this.prng.int(0, 30), endMs);
  }

  private crashSoon(id: number, delayMs: number, endMs: number): void {
    if (this.clock.nowMs + delayMs >= endMs) return;
    this.crashesPending++;
    this.clock.after(delayMs, () => {
      this.crashesPending--;
      // Leave at least one node running, so that the run always has a ring to check.
      if (!this.safety || !this.cluster.isLive(id) || this.cluster.liveIds().length <= 1) return;
      if (this.leaves && this.prng.chance(0.5)) this.cluster.leave(id, leaveDrainWaitMs);
      else this.cluster.crash(id);
    });
  }

  private tokenStorm(endMs: number): void {
    const network = this.cluster.network;
    network.tokenLossProbability = this.prng.range(0.9, 1);
    const stopMs = Math.min(endMs, this.clock.nowMs + this.prng.int(50, 1500));
    this.clock.at(stopMs, () => {
      network.tokenLossProbability = 0;
    });
  }
}

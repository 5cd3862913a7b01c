/**
 * Receiver side of the group layer: unpacks frames delivered in total order, reassembles fragmented
 * messages, keeps the membership of every group, and reports messages, configurations and group
 * events to its host in one order. Runs in the delivery worker (threaded runtime) or beside the SRP
 * (simulator); shares nothing with the Packer.
 *
 * ASSEMBLY AND UNPACKING
 *
 *   onFrame(f):
 *     decode f.payload (frame-format.ts); malformed: count it, skip the whole frame
 *     for each entry, in order:
 *       whole        → deliver
 *       first        → start the sender's partial message (dropping any stale one)
 *       middle, last → append to the sender's partial (same incarnation, counter, group and
 *                      guarantee, and within its total length, else drop it and count); a last
 *                      that completes it → deliver the concatenated copy
 *       join / leave / announce → update the group, emit a GroupEvent (or hold it, below)
 *   onConfiguration(c):
 *     report c first, at its exact place in the stream
 *     transitional: restrict groups to c.members (event per group that lost members or that this
 *                   node is in); group events are held from here
 *     regular: drop every partial message; restrict groups to c.members; wait for the announce of
 *              every member of c, then report every group that changed or that this node is in
 *
 * Partial messages survive a transitional configuration, unlike the senders themselves: the rest of
 * the old ring's frames is delivered in it, from every sender up to the first hole (evs-spec §3.4
 * step 4c), so the remaining fragments of a sender that left may still arrive and complete the
 * message; every member of the transitional configuration gets the same frames, so all of them
 * deliver it or none. Past the first hole a departed sender's frames are discarded by the ordering
 * layer, and its partial message is dropped at the regular configuration with all the others (the
 * senders restart partly emitted messages on the new ring).
 *
 * Group membership follows CPG: a join delivered from X adds X to the group, a leave removes it, an
 * announce from X adds X to each listed group (the joinlist exchange after a merge). Only members
 * of the current configuration are added: a frame from a sender that left can still be delivered
 * in a transitional configuration, and it must not put that sender back into a group.
 *
 * THE ANNOUNCE BARRIER
 *
 * Members that come from different rings enter a regular configuration with different views of
 * the groups (each its own side's), and each learns the others' groups from their announces, in
 * one order but from different starting points: an announce that adds X on one side is a no-op on
 * the side that had X. Events reported as each view changed would come at different points of the
 * stream on different members, and a replicated state machine that takes its members from them
 * (the lock manager) would cut its stream at different points on different replicas. So every
 * member announces at every regular configuration, ending with an empty announce entry, and the
 * views are reported only once the end of every member's announce has been delivered: from then
 * on every member holds the same view of every group (each member's joins, leaves and announce
 * are in its FIFO order, and the announce lists its groups as they stand after the joins and
 * leaves queued before it), so every later event is the same on every member too.
 *
 * The barrier's events have cause 'merge' when the configuration brought members from another
 * ring, or follows a regular configuration whose barrier was not passed: then the views before it
 * may have differed between members (a replicated state reconciles there); else 'configuration'.
 *
 * While the views are held, this node's own join and leave are still reported at once: the
 * application's join() and leave() settle on them, and the messages that follow a join are the
 * joiner's to deliver. Every other change waits for the barrier and is reported then as one event
 * per group.
 */
import { assert } from '../assert.js';
import type {
  AppDelivery,
  ConfigurationChange,
  ConfigurationKind,
  DeliveredFrame,
  GroupEvent,
  GroupEventCause,
  Order,
  NodeId,
  RingId,
} from '../types.js';
import { ringIdEquals } from '../types.js';
import { EntryKind, FrameReader, frameErrors } from './frame-format.js';
import type { FrameError } from './frame-format.js';
import { GroupNameDecoder } from './group-names.js';

export interface AssemblerOptions {
  nodeId: NodeId;
  messageBytesMax: number;
}

export interface AssemblerHost {
  deliver(d: AppDelivery): void;
  groupEvent(e: GroupEvent): void;
  configuration(c: ConfigurationChange): void;
}

export interface AssemblerStats {
  /** Frames skipped whole because their payload does not decode. */
  malformedFrames: number;
  malformedReasons: Record<FrameError, number>;
  /** Fragments that did not continue their sender's partial message (the partial is dropped). */
  fragmentErrors: number;
  /** Partial messages dropped (configuration changes, fragment errors). */
  partialsDropped: number;
  messagesDelivered: number;
}

interface Partial {
  incarnation: number;
  counter: number;
  group: string;
  order: Order;
  bytes: Uint8Array;
  filled: number;
}

const ringIdNone: RingId = { rep: 0, seq: 0n };

export class Assembler {
  readonly stats: AssemblerStats;
  private readonly nodeId: NodeId;
  private readonly reader: FrameReader;
  private readonly partials = new Map<NodeId, Partial>();
  /** group → sorted member ids; a group with no member is absent. */
  private readonly groups = new Map<string, NodeId[]>();
  /** Groups whose members include this node (the `local` flag of deliveries). */
  private readonly local = new Set<string>();
  private kind: ConfigurationKind | null = null;
  private ringId: RingId = ringIdNone;
  private members = new Set<NodeId>();
  /** group → the members last reported (the views the host has heard); absent: none reported. */
  private readonly shown = new Map<string, NodeId[]>();
  /** The regular configuration brought views from elsewhere: its barrier reports cause 'merge'. */
  private merging = false;
  /**
   * Members of the last regular configuration whose announce has not ended yet: empty once its
   * barrier is passed (kept through the transitional configuration after it).
   */
  private unannounced = new Set<NodeId>();

  constructor(opts: AssemblerOptions, private readonly host: AssemblerHost) {
    this.nodeId = opts.nodeId;
    this.reader = new FrameReader(new GroupNameDecoder(), opts.messageBytesMax);
    const reasons = {} as Record<FrameError, number>;
    for (const r of frameErrors) reasons[r] = 0;
    this.stats = {
      malformedFrames: 0,
      malformedReasons: reasons,
      fragmentErrors: 0,
      partialsDropped: 0,
      messagesDelivered: 0,
    };
  }

  onFrame(frame: DeliveredFrame): void {
    assert(this.kind !== null, 'a frame is delivered after the first configuration');
    assert(frame.transitional === (this.kind === 'transitional'), 'frame and configuration agree');
    if (!frame.transitional) {
      assert(ringIdEquals(frame.ringId, this.ringId), 'a regular frame is of my ring');
    }
    const r = this.reader;
    const error = r.read(frame.payload);
    if (error !== null) {
      this.stats.malformedFrames++;
      this.stats.malformedReasons[error]++;
      return;
    }
    for (let i = 0; i < r.count; i++) {
      const kind = r.kinds[i] as number;
      if (kind === EntryKind.whole) {
        const start = r.starts[i] as number;
        const payload = frame.payload.subarray(start, start + (r.lengths[i] as number));
        this.deliver(frame, r.incarnation, r.counters[i] as number, r.groups[i] as string, payload);
      } else if (kind <= EntryKind.last) {
        this.onFragment(frame, i);
      } else if (kind === EntryKind.announce) {
        const first = r.starts[i] as number;
        const end = first + (r.lengths[i] as number);
        for (let n = first; n < end; n++) {
          this.addMember(r.announced[n] as string, frame.originator);
        }
        // An empty announce ends the sender's announce of this configuration. One delivered in a
        // transitional configuration is of the old ring's barrier, which is over.
        if (end === first && !frame.transitional) this.announced(frame.originator);
      } else if (kind === EntryKind.join) {
        this.addMember(r.groups[i] as string, frame.originator);
      } else {
        assert(kind === EntryKind.leave, 'the reader admits only known kinds');
        this.removeMember(r.groups[i] as string, frame.originator);
      }
    }
  }

  onConfiguration(c: ConfigurationChange): void {
    this.host.configuration(c);
    this.kind = c.kind;
    this.ringId = c.ringId;
    this.members = new Set(c.members);
    if (c.kind === 'regular') assert(this.members.has(this.nodeId), 'I am in my configuration');
    if (c.kind === 'regular') {
      this.stats.partialsDropped += this.partials.size;
      this.partials.clear();
    }
    for (const group of [...this.groups.keys()].sort()) {
      const before = this.groups.get(group) as NodeId[];
      this.setMembers(group, before.filter((m) => this.members.has(m)));
    }
    if (c.kind === 'transitional') {
      // The cut, for every group that lost members and every group this node is in: the views
      // reported so far, less the members that did not come along (changes still held stay held
      // for the next regular configuration's barrier).
      for (const group of [...this.shown.keys()].sort()) {
        const before = this.shown.get(group) as NodeId[];
        const left = before.filter((m) => !this.members.has(m));
        if (left.length > 0 || this.local.has(group)) {
          this.emit(group, before.filter((m) => this.members.has(m)), [], left, 'configuration');
        }
      }
      return;
    }
    // Members from another ring (c.joined, which every member sees non-empty alike) or out of a
    // ring whose views never settled (which all who come from it know alike) hold other views.
    this.merging = c.joined.length > 0 || this.unannounced.size > 0;
    this.unannounced = new Set(c.members);
  }

  /** Events are reported as they happen: a regular configuration whose barrier is passed. */
  private get settled(): boolean {
    return this.kind === 'regular' && this.unannounced.size === 0;
  }

  /** The end of `node`'s announce in this regular configuration: the barrier may be passed. */
  private announced(node: NodeId): void {
    if (!this.unannounced.delete(node) || this.unannounced.size > 0) return;
    const cause = this.merging ? 'merge' : 'configuration';
    for (const group of [...new Set([...this.groups.keys(), ...this.shown.keys()])].sort()) {
      const after = this.groups.get(group) ?? [];
      const before = this.shown.get(group) ?? [];
      const joined = after.filter((m) => !before.includes(m));
      const left = before.filter((m) => !after.includes(m));
      if (joined.length > 0 || left.length > 0 || this.local.has(group)) this.emit(group, after, joined, left, cause);
    }
  }

  /** This node's groups (those whose members include it), sorted. */
  localGroups(): string[] {
    return [...this.local].sort();
  }

  /** Current members of `group`, sorted ascending (empty when nobody is in it). */
  groupMembers(group: string): readonly NodeId[] {
    return this.groups.get(group) ?? [];
  }

  /** Every group with at least one member, sorted. */
  groupNames(): string[] {
    return [...this.groups.keys()].sort();
  }

  private onFragment(frame: DeliveredFrame, i: number): void {
    const r = this.reader;
    const kind = r.kinds[i] as number;
    const sender = frame.originator;
    const start = r.starts[i] as number;
    const length = r.lengths[i] as number;
    const counter = r.counters[i] as number;
    const group = r.groups[i] as string;
    if (kind === EntryKind.first) {
      // A first fragment while another message is partial: the sender restarted without a regular
      // configuration in between, which the protocol rules out; keep the newer message.
      if (this.partials.has(sender)) this.dropPartial(sender, true);
      const bytes = new Uint8Array(r.totals[i] as number);
      bytes.set(frame.payload.subarray(start, start + length), 0);
      const order = frame.order;
      const incarnation = r.incarnation;
      this.partials.set(sender, { incarnation, counter, group, order, bytes, filled: length });
      return;
    }
    const p = this.partials.get(sender);
    const fits = p !== undefined && p.filled + length <= p.bytes.length;
    const completes = fits && p.filled + length === p.bytes.length;
    const continues =
      fits &&
      p.incarnation === r.incarnation &&
      p.counter === counter &&
      p.group === group &&
      p.order === frame.order &&
      completes === (kind === EntryKind.last);
    if (!continues) {
      if (p === undefined) this.stats.fragmentErrors++;
      else this.dropPartial(sender, true);
      return;
    }
    p.bytes.set(frame.payload.subarray(start, start + length), p.filled);
    p.filled += length;
    if (!completes) return;
    this.partials.delete(sender);
    this.deliver(frame, p.incarnation, p.counter, p.group, p.bytes);
  }

  private dropPartial(sender: NodeId, error: boolean): void {
    assert(this.partials.has(sender), 'drop an existing partial message');
    this.partials.delete(sender);
    this.stats.partialsDropped++;
    if (error) this.stats.fragmentErrors++;
  }

  private deliver(
    frame: DeliveredFrame,
    incarnation: number,
    counter: number,
    group: string,
    payload: Uint8Array,
  ): void {
    this.stats.messagesDelivered++;
    this.host.deliver({
      sender: frame.originator,
      incarnation,
      counter,
      group,
      order: frame.order,
      payload,
      ringId: this.ringId,
      transitional: frame.transitional,
      local: this.local.has(group),
    });
  }

  private addMember(group: string, node: NodeId): void {
    if (!this.members.has(node)) return; // a sender that left, delivered in a transitional config
    const before = this.groups.get(group) ?? [];
    if (before.includes(node)) return;
    const after = [...before, node].sort((a, b) => a - b);
    this.setMembers(group, after);
    if (this.settled || node === this.nodeId) this.emit(group, after, [node], [], 'join');
  }

  private removeMember(group: string, node: NodeId): void {
    const before = this.groups.get(group);
    if (before === undefined || !before.includes(node)) return;
    const after = before.filter((m) => m !== node);
    this.setMembers(group, after);
    if (this.settled || node === this.nodeId) this.emit(group, after, [], [node], 'leave');
  }

  private setMembers(group: string, members: NodeId[]): void {
    if (members.length === 0) this.groups.delete(group);
    else this.groups.set(group, members);
    if (members.includes(this.nodeId)) this.local.add(group);
    else this.local.delete(group);
  }

  private emit(
    group: string,
    members: NodeId[],
    joined: NodeId[],
    left: NodeId[],
    cause: GroupEventCause,
  ): void {
    const kind = this.kind;
    assert(kind !== null, 'group events follow the first configuration');
    const ringId = this.ringId;
    if (members.length === 0) this.shown.delete(group);
    else this.shown.set(group, [...members]);
    this.host.groupEvent({ group, kind, ringId, members: [...members], joined, left, cause });
  }
}

/**
 * The groups of one node, from join() until this node's own leave is delivered: one slot per
 * group name, the join and leave submissions it has on their way, and the Group the application
 * holds once the join is delivered.
 *
 * A slot is 'joining' until this node's join is delivered, then 'joined', then 'leaving' once a
 * leave is asked. A join that the runtime took but that nobody will see (its caller aborted, or
 * close() cut it) is abandoned: a leave follows it at once and no Group is ever made for it, so
 * the other members see an ordered join and leave rather than a member that stays.
 */
import type { AppDelivery, GroupEvent } from '../../engine/types.js';
import { abortedError, checkChoice, checkSignal, closedError, invalidArgument } from '../call-errors.js';
import type { Encoding } from '../events.js';
import {
  Group,
  kDispatchMembership,
  kDispatchMessage,
  kEnd,
  kFail,
  kSetState,
  toMembershipEvent,
} from '../group.js';
import type { GroupHost } from '../group.js';
import type { Submission, SubmitQueue } from './submit-queue.js';
import { deferred, onAbortUntil, withSignal } from './waiting.js';
import type { Deferred } from './waiting.js';

export interface JoinOptions<E extends Encoding = Encoding> {
  /** 'binary' (default): payloads are Uint8Array. 'msgpack': any value, MessagePack-encoded. */
  encoding?: E;
  /** Aborts the wait. A join already handed to the runtime is undone by a leave right behind it. */
  signal?: AbortSignal;
}

const encodings = ['binary', 'msgpack'] as const satisfies readonly Encoding[];
const groupNameBytesMax = 255;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What the node keeps per group name, from join() until its own leave is delivered. */
interface GroupSlot {
  readonly name: string;
  readonly encoding: Encoding;
  /** joining: join not yet delivered; joined; leaving: leave asked, not yet delivered. */
  state: 'joining' | 'joined' | 'leaving';
  /** Made when the own join is delivered; never made for an abandoned join. */
  group: Group<unknown> | null;
  /** The join was aborted or cut by close() after the runtime took it: undo it, show nothing. */
  abandoned: boolean;
  joinSubmission: Submission | null;
  leaveSubmission: Submission | null;
  joined: Deferred<Group<unknown>>;
  left: Deferred<void>;
  /** Resolves when the slot is removed, for whatever reason (a join of the same name waits for it). */
  gone: Deferred<void>;
}

export class GroupTable {
  private readonly slots = new Map<string, GroupSlot>();

  /**
   * `isClosed`: the node is closed (runtime callbacks are ignored, leave() refused);
   * `onRemoved`: called whenever a slot goes away (close() waits for the last one).
   */
  constructor(
    private readonly host: GroupHost,
    private readonly submits: SubmitQueue,
    private readonly isClosed: () => boolean,
    private readonly onRemoved: () => void,
  ) {}

  /** Groups joined, being joined or being left. */
  get size(): number {
    return this.slots.size;
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  /** EvsNode.join: see there. */
  join(group: string, options: JoinOptions): Promise<Group<unknown>> {
    let encoding: Encoding;
    let signal: AbortSignal | undefined;
    try {
      this.host.checkOpen('join');
      checkGroupName(group);
      encoding = checkChoice(options.encoding, 'encoding', encodings, 'binary');
      signal = checkSignal(options.signal, 'join');
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted === true) return Promise.reject(abortedError('join', signal));
    const existing = this.slots.get(group);
    if (existing !== undefined) {
      if (existing.encoding !== encoding) {
        const why = `group '${group}' is already joined with encoding '${existing.encoding}', not '${encoding}'`;
        return Promise.reject(invalidArgument(why, 'ERR_INVALID_ARG_VALUE'));
      }
      if (existing.state === 'leaving') {
        return withSignal(existing.gone.promise, signal, 'join').then(() => this.join(group, options));
      }
      return withSignal(existing.joined.promise, signal, 'join');
    }
    return this.startJoin(group, encoding, signal);
  }

  /** close(): every group is left; joins not yet delivered reject with `closed` and are undone. */
  leaveAll(closed: unknown): void {
    for (const slot of [...this.slots.values()]) {
      if (slot.state === 'joining') {
        slot.joined.reject(closed);
        this.abandon(slot);
      } else if (slot.state === 'joined') {
        slot.state = 'leaving';
        slot.group?.[kSetState]('leaving');
        this.submitLeave(slot);
      }
    }
  }

  /** The node failed: every group's iterators throw `error`, pending joins and leaves reject. */
  failAll(error: unknown): void {
    for (const slot of [...this.slots.values()]) {
      slot.group?.[kFail](error);
      slot.joined.reject(error);
      slot.left.reject(error);
      this.removeSlot(slot);
    }
  }

  /** The node closed: every group ends; leaves not delivered reject with `closed`. */
  endAll(closed: unknown): void {
    for (const slot of [...this.slots.values()]) {
      slot.group?.[kEnd]();
      slot.left.reject(closed);
      this.removeSlot(slot);
    }
  }

  /** An application message of the runtime, to its group if this node shows one. */
  deliver(d: AppDelivery): void {
    if (this.isClosed()) return;
    const group = this.slots.get(d.group)?.group;
    // No group object: not joined here, or a join that was abandoned.
    if (group === null || group === undefined) return;
    group[kDispatchMessage](group.toMessage(d));
  }

  /** A group event of the runtime: this node's own join and leave settle join() and leave(). */
  groupEvent(e: GroupEvent): void {
    if (this.isClosed()) return;
    const slot = this.slots.get(e.group);
    if (slot === undefined) return;
    const self = this.host.nodeId;
    if (e.cause === 'join' && e.joined.includes(self)) {
      if (slot.state !== 'joining') return; // the abandoned join's own join: its leave follows
      slot.state = 'joined';
      const group = new Group<unknown>(this.host, slot.name, slot.encoding, e.members);
      slot.group = group;
      group[kDispatchMembership](toMembershipEvent(e));
      slot.joined.resolve(group);
      return;
    }
    const group = slot.group;
    if (e.cause === 'leave' && e.left.includes(self)) {
      if (group !== null) {
        group[kDispatchMembership](toMembershipEvent(e));
        group[kEnd]();
      }
      this.removeSlot(slot);
      slot.left.resolve();
      return;
    }
    if (group !== null && !slot.abandoned) group[kDispatchMembership](toMembershipEvent(e));
  }

  private startJoin(name: string, encoding: Encoding, signal: AbortSignal | undefined): Promise<Group<unknown>> {
    const slot: GroupSlot = {
      name,
      encoding,
      state: 'joining',
      group: null,
      abandoned: false,
      joinSubmission: null,
      leaveSubmission: null,
      joined: deferred(),
      left: deferred(),
      gone: deferred(),
    };
    this.slots.set(name, slot);
    const onAbort = (aborted: AbortSignal): void => {
      if (slot.state !== 'joining') return;
      const error = abortedError('join', aborted);
      const queued = slot.joinSubmission;
      if (queued !== null && this.submits.remove(queued)) {
        this.removeSlot(slot);
      } else {
        this.abandon(slot);
      }
      slot.joined.reject(error);
    };
    const submission: Submission = {
      kind: 'join',
      group: name,
      payload: null,
      order: 'agreed',
      accepted: () => {
        slot.joinSubmission = null;
      },
      refused: (error) => {
        slot.joinSubmission = null;
        if (this.slots.get(name) === slot) this.removeSlot(slot);
        slot.joined.reject(error);
      },
    };
    slot.joinSubmission = submission;
    onAbortUntil(signal, slot.joined.promise, onAbort);
    this.submits.submit(submission);
    return slot.joined.promise.then((g) => g);
  }

  /** Undo a join the runtime took but the application will never see: leave right behind it. */
  private abandon(slot: GroupSlot): void {
    slot.abandoned = true;
    slot.state = 'leaving';
    this.submitLeave(slot);
  }

  /** Group.leave() (through GroupHost): see there. Aborting takes back a leave still waiting. */
  leave(group: Group<unknown>, signal: AbortSignal | undefined): Promise<void> {
    const slot = this.slots.get(group.name);
    if (slot === undefined || slot.group !== group) return Promise.resolve();
    if (this.isClosed()) return Promise.reject(closedError('leave'));
    if (signal?.aborted === true) return Promise.reject(abortedError('leave', signal));
    if (slot.state === 'leaving') return withSignal(slot.left.promise, signal, 'leave');
    slot.state = 'leaving';
    group[kSetState]('leaving');
    this.submitLeave(slot);
    if (signal === undefined) return slot.left.promise.then(() => undefined);
    const onAbort = (): void => {
      const queued = slot.leaveSubmission;
      // Still waiting for room: take it back, the group stays joined.
      if (queued !== null && slot.state === 'leaving' && this.submits.remove(queued)) {
        slot.leaveSubmission = null;
        slot.state = 'joined';
        group[kSetState]('joined');
        const left = slot.left;
        slot.left = deferred();
        left.reject(abortedError('leave', signal));
      }
    };
    const left = slot.left.promise;
    onAbortUntil(signal, left, onAbort);
    return withSignal(left, signal, 'leave');
  }

  private submitLeave(slot: GroupSlot): void {
    const submission: Submission = {
      kind: 'leave',
      group: slot.name,
      payload: null,
      order: 'agreed',
      accepted: () => {
        slot.leaveSubmission = null;
      },
      refused: (error) => {
        slot.leaveSubmission = null;
        slot.left.reject(error);
      },
    };
    slot.leaveSubmission = submission;
    this.submits.submit(submission);
  }

  private removeSlot(slot: GroupSlot): void {
    if (this.slots.get(slot.name) === slot) this.slots.delete(slot.name);
    slot.gone.resolve();
    this.onRemoved();
  }
}

function checkGroupName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw invalidArgument('group must be a string');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > groupNameBytesMax) {
    const why = `group name must be 1..${groupNameBytesMax} UTF-8 bytes, got ${bytes}`;
    throw invalidArgument(why, 'ERR_INVALID_ARG_VALUE');
  }
  if (loneSurrogate.test(name)) {
    throw invalidArgument('group name is not well-formed Unicode (lone surrogate)', 'ERR_INVALID_ARG_VALUE');
  }
}

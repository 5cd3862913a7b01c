/**
 * Errors of the lock manager. Callers match on `err.code` (stable), never on the message.
 *
 * - `TOTEM_ERR_LOCK_WOULD_BLOCK`: a try-lock (`noQueue`) or try-conversion found the lock held.
 * - `TOTEM_ERR_LOCK_TIMEOUT`: `timeoutMs` passed while waiting; the cancel was multicast and
 *   applied everywhere, so the request is never granted later.
 * - `TOTEM_ERR_LOCK_DEADLOCK`: the request closed a wait-for cycle and was chosen as its victim
 *   (the request queued last). A conversion that fails this way keeps its granted mode.
 * - `TOTEM_ERR_LOCK_NOT_PRIMARY`: `failIfNotPrimary` was set and the configuration cannot grant.
 * - `TOTEM_ERR_LOCK_CANCELLED`: the request was cancelled (its `signal` aborted) before a grant.
 * - `TOTEM_ERR_LOCK_REVOKED`: the lock (or its pending request) was removed by a merge (the
 *   primary side's table won), by a purge, or because it was suspect when its table entered a
 *   primary configuration. details: `reason`.
 * - `TOTEM_ERR_LOCK_SUSPECT`: the abort reason of a handle's `signal` when a configuration change
 *   left this node outside a primary component: the lock may no longer be exclusive.
 * - `TOTEM_ERR_LOCK_RECONFIGURED`: a barrier entry was cut by a configuration change before it
 *   reached the table (during a table sync, or between a ring change's cut and its regular
 *   configuration); nothing was applied, enter again. (A lock request cut so is sent again.)
 * - `TOTEM_ERR_LOCK_IN_PROGRESS`: a conversion asked while another request of the same lock waits.
 * - `TOTEM_ERR_LOCK_RELEASED`: a call on a handle that was released, revoked or purged.
 * - `TOTEM_ERR_LOCK_BARRIER_FAILED`: a member of the barrier left before all had entered, or a
 *   merge replaced the table. details: `reason`, `ring`.
 * - `TOTEM_ERR_LOCK_NO_ORPHAN`: `adopt` found no orphan of that mode (and id) on the resource.
 * - `TOTEM_ERR_LOCK_REENTRANCY_LIMIT`: a re-entry beyond the lockspace's `reentrancyMax` holds.
 * - `TOTEM_ERR_LOCK_INVALID`: a bad argument (mode, name, value block size, options).
 * - `TOTEM_ERR_LOCK_CLOSED`: the lock manager (or its node) is closed.
 */
export const lockErrorCodes = [
  'TOTEM_ERR_LOCK_WOULD_BLOCK',
  'TOTEM_ERR_LOCK_TIMEOUT',
  'TOTEM_ERR_LOCK_DEADLOCK',
  'TOTEM_ERR_LOCK_NOT_PRIMARY',
  'TOTEM_ERR_LOCK_CANCELLED',
  'TOTEM_ERR_LOCK_REVOKED',
  'TOTEM_ERR_LOCK_SUSPECT',
  'TOTEM_ERR_LOCK_RECONFIGURED',
  'TOTEM_ERR_LOCK_IN_PROGRESS',
  'TOTEM_ERR_LOCK_RELEASED',
  'TOTEM_ERR_LOCK_BARRIER_FAILED',
  'TOTEM_ERR_LOCK_INVALID',
  'TOTEM_ERR_LOCK_CLOSED',
  'TOTEM_ERR_LOCK_NO_ORPHAN',
  'TOTEM_ERR_LOCK_REENTRANCY_LIMIT',
] as const;

export type LockErrorCode = (typeof lockErrorCodes)[number];

export class LockError extends Error {
  override readonly name = 'LockError';

  constructor(
    readonly code: LockErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/** The table's deny reasons, as error codes. */
export function denyError(reason: string | undefined, what: string): LockError {
  switch (reason) {
    case 'would-block':
      return new LockError('TOTEM_ERR_LOCK_WOULD_BLOCK', `${what}: held by another lock (no-queue)`);
    case 'timeout':
      return new LockError('TOTEM_ERR_LOCK_TIMEOUT', `${what}: wait timed out; the request was cancelled everywhere`);
    case 'deadlock':
      return new LockError('TOTEM_ERR_LOCK_DEADLOCK', `${what}: chosen as the victim of a deadlock`);
    case 'not-primary':
      return new LockError('TOTEM_ERR_LOCK_NOT_PRIMARY', `${what}: this configuration is not primary`);
    case 'no-orphan':
      return new LockError('TOTEM_ERR_LOCK_NO_ORPHAN', `${what}: no orphan of that mode to adopt`);
    case 'reentrancy-limit':
      return new LockError('TOTEM_ERR_LOCK_REENTRANCY_LIMIT', `${what}: the lock already counts the lockspace's reentrancyMax holds`);
    case 'suspect':
      return new LockError('TOTEM_ERR_LOCK_SUSPECT', `${what}: the lock to re-enter is suspect (held through a configuration that is not primary)`);
    case 'in-progress':
      return new LockError('TOTEM_ERR_LOCK_IN_PROGRESS', `${what}: another request of this lock is pending`);
    default:
      return new LockError('TOTEM_ERR_LOCK_CANCELLED', `${what}: ended without a grant (${reason ?? 'cancel'})`, { reason });
  }
}

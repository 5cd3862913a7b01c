/**
 * Totem flow control (evs-spec §2.4, [TOTEM] "Flow Control", corosync fcc_calculate and
 * fcc_token_update). The token carries `fcc`, the frames broadcast during the last full rotation,
 * and `backlog`, the frames waiting at all processors. A processor may send at most `maxMessages`
 * per visit and never more than the window leaves; when others wait too, it takes a share of the
 * window in proportion to its own previous backlog.
 */
export interface FlowControlState {
  /** Frames I sent (new + retransmitted) on my previous visit. */
  sentPrev: number;
  /** My backlog as sampled on my previous visit. */
  backlogPrev: number;
}

const uint32Max = 0xffffffff;

/** Frames this visit may carry, retransmissions first (never negative). */
export function fccAllowance(
  windowSize: number,
  maxMessages: number,
  tokenFcc: number,
  tokenBacklog: number,
  backlogNow: number,
  state: FlowControlState,
): number {
  // corosync computes window_size - fcc unsigned and can wrap; clamp at zero instead.
  let allowed = Math.min(maxMessages, Math.max(0, windowSize - tokenFcc));
  const denominator = tokenBacklog + backlogNow - state.backlogPrev;
  if (denominator > 0) {
    const share = Math.floor((windowSize * state.backlogPrev) / denominator);
    if (share > 0) allowed = Math.min(allowed, share);
  }
  return allowed;
}

/** Replace my previous contribution to the token's fcc and backlog by this visit's. */
export function fccTokenUpdate(
  token: { fcc: number; backlog: number },
  sentNow: number,
  backlogNow: number,
  state: FlowControlState,
): void {
  // Within a uint32 whatever the token carried: the fields are uint32 on the wire.
  token.fcc = Math.min(uint32Max, Math.max(0, token.fcc + sentNow - state.sentPrev));
  token.backlog = Math.min(uint32Max, Math.max(0, token.backlog + backlogNow - state.backlogPrev));
  state.sentPrev = sentNow;
  state.backlogPrev = backlogNow;
}

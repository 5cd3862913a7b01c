/**
 * How the ring is tuned: the datagram size (netMtu) and what it leaves per frame, the timers,
 * the window and the message and queue sizes. Timers are whole milliseconds in 1..2^31-1 (Node's
 * timers turn larger delays into 1 ms). Timers left out derive from tokenTimeoutMs
 * (engine/config.ts deriveTimers); a relation between timers that does not hold is blamed on a
 * timer the user set, so that the message names something the user can change.
 */
import {
  deriveMaxMessages,
  deriveTimers,
  engineDefaults,
  engineTimerNames,
  resolveEngineConfig,
} from '../../engine/config.js';
import type { EngineConfig, EngineTimerName } from '../../engine/config.js';
import {
  ipv4UdpHeaderBytes,
  ipv6UdpHeaderBytes,
  messageBytesMaxLimit,
  netMtuMin,
  windowSizeMax,
} from '../../engine/constants.js';
import type { NodeId } from '../../engine/types.js';
import { TotemError } from '../../workers/errors.js';
import type { AddressFamily, EngineTuning } from '../../workers/runtime-options.js';
import { deliveryBufferBytesDefault } from '../../workers/runtime-sizing.js';
import { invalid, optionalInteger, parseInteger } from './validation.js';

export const netMtuMax = 65535;
export const netMtuDefault = 1500;
/** Node's setTimeout turns a delay above 2^31-1 ms into 1 ms, with only a warning. */
export const timerMsMax = 2 ** 31 - 1;
/** The engine's smallest frame (engine/config.ts validateEngineConfig). */
const frameBytesMin = 256;

/**
 * The `netMtu` option of `o` and the frame size it leaves: the datagram less the IP and UDP headers of
 * `family` and `authOverheadBytes` (what packet authentication adds; 0 without a key).
 */
export function resolveNetMtu(
  o: Record<string, unknown>,
  family: AddressFamily,
  authOverheadBytes: number,
): { netMtu: number; frameBytesMax: number } {
  const netMtu = optionalInteger(o, 'netMtu', netMtuDefault, netMtuMin, netMtuMax, 'bytes');
  const headerBytes = family === 'IPv4' ? ipv4UdpHeaderBytes : ipv6UdpHeaderBytes;
  const frameBytesMax = netMtu - headerBytes - authOverheadBytes;
  if (frameBytesMax < frameBytesMin) {
    throw invalid(
      'netMtu',
      `netMtu ${netMtu} leaves ${frameBytesMax} bytes per frame after headers and authentication; raise netMtu`,
    );
  }
  return { netMtu, frameBytesMax };
}

const timerOptions = engineTimerNames;
type TimerOption = EngineTimerName;

const derivationSource: Partial<Record<TimerOption, TimerOption>> = {
  tokenRetransmitMs: 'tokenTimeoutMs',
  holdMs: 'tokenRetransmitMs',
  consensusTimeoutMs: 'tokenTimeoutMs',
};

const derivedFrom: Partial<Record<TimerOption, string>> = {
  tokenRetransmitMs: 'tokenTimeoutMs / 4.2',
  holdMs: 'tokenRetransmitMs × 0.8',
  consensusTimeoutMs: 'tokenTimeoutMs × 1.2',
};

function checkTimers(given: Partial<Record<TimerOption, number>>, t: Record<TimerOption, number>): void {
  const show = (k: TimerOption) => {
    if (given[k] !== undefined) return `${k} ${t[k]}`;
    const from = derivedFrom[k];
    return from === undefined ? `${k} ${t[k]} (default)` : `${k} ${t[k]} (derived: ${from})`;
  };
  // Blame an option the user set: a derived timer's fault is its source's (tokenTimeoutMs for
  // tokenRetransmitMs, ...); of the two sides of a relation, the dependent one unless only the
  // other side was set.
  const origin = (k: TimerOption): TimerOption => {
    const from = derivationSource[k];
    return given[k] !== undefined || from === undefined ? k : origin(from);
  };
  const isSet = (k: TimerOption) => given[origin(k)] !== undefined;
  const blame = (dependent: TimerOption, other: TimerOption) =>
    isSet(dependent) || !isSet(other) ? origin(dependent) : origin(other);
  for (const k of timerOptions) {
    if (t[k] < 1) {
      throw invalid(origin(k), `${show(k)} is below 1 ms; raise tokenTimeoutMs or set ${k}`);
    }
  }
  if (!(t.tokenTimeoutMs > t.tokenRetransmitMs)) {
    const why = `${show('tokenRetransmitMs')} must be below ${show('tokenTimeoutMs')}`;
    throw invalid(blame('tokenRetransmitMs', 'tokenTimeoutMs'), why);
  }
  if (!(t.holdMs < t.tokenRetransmitMs)) {
    const why = `${show('holdMs')} must be below ${show('tokenRetransmitMs')}`;
    throw invalid(blame('holdMs', 'tokenRetransmitMs'), why);
  }
  if (!(t.consensusTimeoutMs >= t.joinTimeoutMs)) {
    const why = `${show('consensusTimeoutMs')} must be at least ${show('joinTimeoutMs')}`;
    throw invalid(blame('consensusTimeoutMs', 'joinTimeoutMs'), why);
  }
}

/** The engine's tuning from the options; `frameBytesMax` comes from resolveNetMtu. */
export function resolveEngine(o: Record<string, unknown>, nodeId: NodeId, frameBytesMax: number): EngineTuning {
  const given: Partial<Record<TimerOption, number>> = {};
  for (const k of timerOptions) {
    if (o[k] !== undefined) given[k] = parseInteger(o[k], k, 1, timerMsMax, 'milliseconds');
  }
  checkTimers(given, deriveTimers(given));

  const windowSize = optionalInteger(o, 'windowSize', engineDefaults.windowSize, 1, windowSizeMax, 'frames');
  const maxMessages = optionalInteger(o, 'maxMessages', deriveMaxMessages(windowSize), 1, windowSizeMax, 'frames');
  if (maxMessages > windowSize) {
    const ws = o.windowSize === undefined ? `the default windowSize ${windowSize}` : `windowSize ${windowSize}`;
    const why = `maxMessages ${maxMessages} must not exceed ${ws}; lower maxMessages or raise windowSize`;
    throw invalid('maxMessages', why);
  }
  const messageBytesMax = optionalInteger(
    o, 'messageBytesMax', engineDefaults.messageBytesMax, 1, messageBytesMaxLimit, 'bytes',
  );
  // A queue smaller than one largest message could never take it: the default grows to fit.
  const sendQueueBytesDefault = Math.max(engineDefaults.sendQueueBytesMax, messageBytesMax);
  const sendQueueBytesMax = optionalInteger(
    o, 'sendQueueBytesMax', sendQueueBytesDefault, 1, Number.MAX_SAFE_INTEGER, 'bytes',
  );
  if (sendQueueBytesMax < messageBytesMax) {
    const why = `sendQueueBytesMax ${sendQueueBytesMax} must be at least messageBytesMax ${messageBytesMax},` +
      ' so that one largest message fits';
    throw invalid('sendQueueBytesMax', why);
  }

  let config: EngineConfig;
  try {
    config = resolveEngineConfig({
      nodeId, ...given, windowSize, maxMessages, messageBytesMax, sendQueueBytesMax, frameBytesMax,
    });
  } catch (err) {
    // The checks above should have caught it; if the engine's rules have grown, still report it as
    // an option error rather than a crash.
    const why = err instanceof Error ? err.message : String(err);
    throw new TotemError('TOTEM_ERR_INVALID_OPTION', why, { details: { option: '(engine)' }, cause: err });
  }
  const { incarnation: _incarnation, ringSeqInitial: _ringSeqInitial, ...tuning } = config;
  return tuning;
}

/**
 * deliveryBufferBytesMax: what the runtime keeps for an application that is not taking its
 * deliveries before the node leaves the ring with TOTEM_ERR_SLOW_CONSUMER (workers/runtime-sizing.ts
 * says how the default is sized). At least messageBytesMax, as sendQueueBytesMax: one largest
 * message that finds the delivery ring busy must not by itself count as a stalled application.
 */
export function resolveDeliveryBuffer(o: Record<string, unknown>, messageBytesMax: number): number {
  const fallback = Math.max(deliveryBufferBytesDefault, messageBytesMax);
  const bytesMax = optionalInteger(o, 'deliveryBufferBytesMax', fallback, 1, Number.MAX_SAFE_INTEGER, 'bytes');
  if (bytesMax < messageBytesMax) {
    const why = `deliveryBufferBytesMax ${bytesMax} must be at least messageBytesMax ${messageBytesMax},` +
      ' so that one largest message fits';
    throw invalid('deliveryBufferBytesMax', why);
  }
  return bytesMax;
}

/**
 * What the main thread hands each worker at start (workerData): shared buffers, the node's facts,
 * and its end of the control channel. Everything here is structured-cloneable (no functions: the
 * logger stays on the main thread; workers send it 'log' messages).
 */
import type { MessagePort } from 'node:worker_threads';
import type { EngineConfig } from '../engine/config.js';
import type { LogLevel } from './logger.js';
import type { AddressFamily, NetAddress, ResolvedMember, TransportKind } from './runtime-options.js';

/** A doorbell word: ring/doorbell.ts `new Doorbell(sab, byteOffset)`. */
export interface BellRef {
  sab: SharedArrayBuffer;
  byteOffset: number;
}

/** The SharedArrayBuffers of the node, one per ring, and the doorbell word of each thread. */
export interface SharedRings {
  submit: SharedArrayBuffer;
  in: SharedArrayBuffer;
  out: SharedArrayBuffer;
  frames: SharedArrayBuffer;
  delivery: SharedArrayBuffer;
  bells: { main: BellRef; net: BellRef; token: BellRef; delivery: BellRef };
  /** wake-flags.ts: which waits a doorbell ring can end. */
  flags: SharedArrayBuffer;
}

interface CommonData {
  nodeId: number;
  incarnation: number;
  logLevel: LogLevel;
  rings: SharedRings;
  port: MessagePort;
}

export interface NetWorkerData extends CommonData {
  family: AddressFamily;
  bind: NetAddress;
  members: ResolvedMember[];
  transport: TransportKind;
  multicastAddress: NetAddress | null;
  /** The cluster key, or null: packets are then neither sealed nor opened. */
  key: Uint8Array | null;
  /** The cluster name bound into every sealed packet's tag. */
  cluster: string;
  receiveBufferBytes: number;
}

export interface TokenWorkerData extends CommonData {
  engine: EngineConfig;
  stateDir: string | null;
  traceDir: string | null;
}

export interface DeliveryWorkerData extends CommonData {
  messageBytesMax: number;
  /** Most bytes of records waiting for room in the delivery ring before the node leaves. */
  deliveryBufferBytesMax: number;
  traceDir: string | null;
}

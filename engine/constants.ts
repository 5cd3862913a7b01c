/**
 * Every bound of the protocol, named once, with the relations between them checked when the module
 * loads. Values follow corosync's totemsrp.c / totemconfig.c where evs-spec.md names them.
 */
import { assert } from './assert.js';

/** Largest cluster the wire format and the membership sets admit (corosync: PROCESSOR_COUNT_MAX). */
export const nodeCountMax = 384;

/** Retransmission requests one token carries (corosync: RETRANSMIT_ENTRIES_MAX). */
export const rtrEntriesMax = 30;

/**
 * Messages that may stand between the last garbage-collected seq and token.seq
 * (corosync: QUEUE_RTR_ITEMS_SIZE_MAX). Bounds the sort queue of every node.
 */
export const sortQueueItemsMax = 16384;

/** Largest flow-control window the engine accepts. */
export const windowSizeMax = 4096;

/** Largest packet the codec reads or writes (UDP datagram limit, header included). */
export const packetBytesMax = 65507;

/** Largest application message, fragmented over frames (configurable below this). */
export const messageBytesMaxLimit = 64 * 1024 * 1024;

/** Longest group name, in UTF-8 bytes (fits the one-byte length prefix of the entry header). */
export const groupNameBytesMax = 255;

/** IP + UDP header bytes subtracted from the link MTU. */
export const ipv4UdpHeaderBytes = 28;
export const ipv6UdpHeaderBytes = 48;

/** Smallest link MTU accepted: IPv6's minimum. */
export const netMtuMin = 1280;

/**
 * Largest ring seq this node ever uses or stores (2^62 − 1): below the wire's uint64 with headroom,
 * and what the runtime's state store accepts. A commit token past it is never created.
 */
export const ringSeqMax = (1n << 62n) - 1n;

/**
 * Room kept above a stored ring seq this node starts from: a stored seq above
 * `ringSeqStartMax` = ringSeqMax − 2^40 refuses to start (config.ts storedRingSeqProblem), with
 * the fix in the message. At 4 seqs per ring the headroom lasts 2^38 rings.
 */
export const ringSeqHeadroom = 1n << 40n;

/** Largest stored ring seq a node starts from. */
export const ringSeqStartMax = ringSeqMax - ringSeqHeadroom;

/**
 * Largest ring seq accepted from the network (ringSeqMax − 2^24): above it a packet is dropped
 * (`ring-seq-bound`), so that the rings formed after the largest accepted seq still have 2^22 ids.
 */
export const ringSeqAcceptMax = ringSeqMax - (1n << 24n);

/**
 * Largest jump of a received ring seq above this node's own ring seq; a packet naming a ring
 * further ahead is dropped (`ring-seq-bound`), not clamped: a clamped seq would name a ring nobody
 * formed. 2^40 is 8.7 years of the runtime's clock-derived floor (4 seqs per ms), so honest nodes
 * whose clocks agree within that never hit it, while one forged packet can no longer push a
 * cluster to the end of the seq space. Seqs further ahead that keep arriving for
 * `ringSeqJumpAdoptMs` are taken (engine/README.md deviation 19): otherwise a node left behind by
 * peers that took a forged jump would drop them for good.
 */
export const ringSeqJumpMax = 1n << 40n;

/**
 * Entries kept per map keyed by a node id taken from received packets (when each processor was
 * last heard, its last join, version-skew reports): twice nodeCountMax. When full, entries older
 * than the consensus timeout are pruned first, then the oldest.
 */
export const peerEntriesMax = 2 * nodeCountMax;

assert(windowSizeMax * 2 <= sortQueueItemsMax, 'the sort queue holds two full windows');
assert(rtrEntriesMax * 16 + 64 < netMtuMin - ipv6UdpHeaderBytes, 'a full token fits one datagram');
assert(nodeCountMax < 0xffff, 'member counts fit a uint16 on the wire');
assert(ringSeqStartMax > 0n && ringSeqJumpMax > 0n, 'ring seq bounds are positive');
assert(ringSeqStartMax < ringSeqAcceptMax && ringSeqAcceptMax < ringSeqMax, 'start < accept < max: room for rings at each');

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

assert(windowSizeMax * 2 <= sortQueueItemsMax, 'the sort queue holds two full windows');
assert(rtrEntriesMax * 16 + 64 < netMtuMin - ipv6UdpHeaderBytes, 'a full token fits one datagram');
assert(nodeCountMax < 0xffff, 'member counts fit a uint16 on the wire');

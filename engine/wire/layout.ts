/**
 * Wire layout of every Totem packet (evs-spec §2.1, §3.2, §3.3): byte offsets, sizes, flag bits,
 * and the rules the decoder enforces. engine/wire/codec.ts reads and writes exactly this; nothing
 * else should know an offset.
 *
 * Little-endian throughout. Offsets are from the start of the packet. No padding: the codec reads
 * through a DataView, so alignment buys nothing and every byte costs datagram space.
 *
 * Common header (8 bytes), first in every packet:
 *
 *    0       1       2               4                               8
 *   +-------+-------+---------------+-------------------------------+
 *   |version| type  |  flags u16    |          sender u32           |
 *   +-------+-------+---------------+-------------------------------+
 *
 * RingId (12 bytes), wherever a ring is named:
 *
 *   +0                              +4                                                             +12
 *   +-------------------------------+---------------------------------------------------------------+
 *   |            rep u32            |                         seq u64                               |
 *   +-------------------------------+---------------------------------------------------------------+
 *
 * Token (type 1), 46 bytes + 16 per rtr entry (at most 30: 526 bytes). flags bit 0 = retransFlg.
 *
 *    0        8          20         24    28    32        36    40        44        46
 *   +--------+----------+----------+-----+-----+---------+-----+---------+---------+-----------+
 *   | header |  ringId  | tokenSeq | seq | aru | aruAddr | fcc | backlog | rtr u16 | rtr[] ... |
 *   +--------+----------+----------+-----+-----+---------+-----+---------+---------+-----------+
 *   rtr entry (16 bytes): ringId (12) | seq u32
 *
 * Mcast (type 2), 33 bytes + payload. flags bit 0 = encapsulated.
 *
 *    0        8          20    24           28          29                 33
 *   +--------+----------+-----+------------+-----------+------------------+------------+
 *   | header |  ringId  | seq | originator | guarantee | payloadBytes u32 | payload... |
 *   +--------+----------+-----+------------+-----------+------------------+------------+
 *
 * An encapsulated mcast (recovery re-broadcast, evs-spec §2.1) is an ordinary mcast header with
 * the encapsulated flag whose payload is one complete plain mcast frame of the old ring: the outer
 * header carries the new ring id, the new seq and the re-broadcaster; the inner frame is the
 * original bytes, unchanged. It therefore adds exactly one mcast header (33 bytes) to the frame it
 * carries, which is why a payload must leave room for two headers (mcastPayloadBytesMax).
 *
 * Join (type 3), 20 bytes + 4 per id. The sender is the header's sender.
 *
 *    0        8             16          18             18+4p       20+4p
 *   +--------+-------------+-----------+--------------+-----------+--------------+
 *   | header | ringSeq u64 | procN u16 | procSet[p].. | failN u16 | failSet[f].. |
 *   +--------+-------------+-----------+--------------+-----------+--------------+
 *
 * CommitToken (type 4), 24 bytes + 25 per member.
 *
 *    0        8          20             22            24
 *   +--------+----------+--------------+-------------+------------+
 *   | header |  ringId  | membIndex u16| memberN u16 | members... |
 *   +--------+----------+--------------+-------------+------------+
 *   member (25 bytes):
 *   +0       +4            +16     +20                +24
 *   +--------+-------------+-------+------------------+----------+
 *   | nodeId | oldRingId   | aru   | highDelivered    | flags u8 |
 *   +--------+-------------+-------+------------------+----------+
 *   member flags: bit 0 = receivedFlg, bit 1 = filled.
 *
 * MergeDetect (type 5) and TokenHoldCancel (type 6), 20 bytes: header | ringId.
 *
 * Decoding rules, checked in this order (the first that applies names the drop reason):
 *  1. longer than packetBytesMax                                 → 'oversized'
 *  2. empty                                                      → 'truncated'
 *  3. version byte ≠ PROTOCOL_VERSION                            → 'version' (with `version`, and
 *     `sender` when all 8 header bytes are there, so the host can report skew once per peer)
 *  4. shorter than the header                                    → 'truncated'
 *  5. type not one of PacketType                                 → 'unknown-type'
 *  6. a header flag bit the type does not define, or sender 0    → 'malformed'
 *  7. the type's fixed fields (everything before its first list or payload) run past the end
 *                                                                → 'truncated'
 *  8. in the fixed fields: a count above its bound (rtr > rtrEntriesMax, procN or memberN >
 *     nodeCountMax)                                              → 'oversized'
 *  9. in the fixed fields: a ringId rep of 0, originator 0, guarantee not 0 (agreed) or 1 (safe),
 *     memberN 0, membIndex > memberN                             → 'malformed'
 * 10. each list (or payload), in wire order: its count above its bound → 'oversized' (before its
 *     bytes are looked at); its bytes run past the end → 'truncated'; then, in its content, a
 *     node id of 0, ids not strictly ascending (unsorted or duplicate), a member flag bit other
 *     than the two defined, an rtr ringId rep of 0             → 'malformed'
 * 11. bytes left after the last field                            → 'malformed'
 * A node id is never 0 where it names a node; the exceptions are aruAddr (0 = "nobody",
 * evs-spec §2.1) and a commit member's oldRingId rep (an entry not yet filled, or a node that
 * never had a ring), which may be 0. Ring seq is any uint64.
 * An encapsulated mcast's payload must decode, by these same rules, as a plain (not encapsulated)
 * mcast of exactly the payload's length; otherwise the outer packet is 'malformed' (the outer
 * frame is complete, its content is wrong), so nesting never goes deeper than one level.
 *
 * Everything the decoder accepts re-encodes to the same bytes: no field is ignored, so there is
 * no second spelling of one packet.
 */
import { nodeCountMax, packetBytesMax, rtrEntriesMax } from '../constants.js';
import { assert } from '../assert.js';

/** Common header. */
export const headerVersionOffset = 0;
export const headerTypeOffset = 1;
export const headerFlagsOffset = 2;
export const headerSenderOffset = 4;
export const headerBytes = 8;

/** RingId, relative to where it starts. */
export const ringIdRepOffset = 0;
export const ringIdSeqOffset = 4;
export const ringIdBytes = 12;

export const nodeIdBytes = 4;
export const countBytes = 2;

/** Token. */
export const tokenFlagRetrans = 0x0001;
export const tokenRingIdOffset = headerBytes;
export const tokenTokenSeqOffset = tokenRingIdOffset + ringIdBytes;
export const tokenSeqOffset = tokenTokenSeqOffset + 4;
export const tokenAruOffset = tokenSeqOffset + 4;
export const tokenAruAddrOffset = tokenAruOffset + 4;
export const tokenFccOffset = tokenAruAddrOffset + 4;
export const tokenBacklogOffset = tokenFccOffset + 4;
export const tokenRtrCountOffset = tokenBacklogOffset + 4;
export const tokenFixedBytes = tokenRtrCountOffset + countBytes;
export const rtrEntryRingIdOffset = 0;
export const rtrEntrySeqOffset = ringIdBytes;
export const rtrEntryBytes = ringIdBytes + 4;
export const tokenBytesMax = tokenFixedBytes + rtrEntriesMax * rtrEntryBytes;

/** Mcast. */
export const mcastFlagEncapsulated = 0x0001;
export const mcastRingIdOffset = headerBytes;
export const mcastSeqOffset = mcastRingIdOffset + ringIdBytes;
export const mcastOriginatorOffset = mcastSeqOffset + 4;
export const mcastOrderOffset = mcastOriginatorOffset + 4;
export const mcastPayloadLengthOffset = mcastOrderOffset + 1;
/** Everything a plain mcast packet carries before its payload. */
export const mcastHeaderBytes = mcastPayloadLengthOffset + 4;
/** What an encapsulated re-broadcast adds around the inner frame: one more mcast header. */
export const mcastEncapsulationBytes = mcastHeaderBytes;

/** Join. */
export const joinRingSeqOffset = headerBytes;
export const joinProcCountOffset = joinRingSeqOffset + 8;
/** procN + failN around two empty sets. */
export const joinFixedBytes = joinProcCountOffset + countBytes + countBytes;

/** CommitToken. */
export const commitRingIdOffset = headerBytes;
export const commitMembIndexOffset = commitRingIdOffset + ringIdBytes;
export const commitMemberCountOffset = commitMembIndexOffset + countBytes;
export const commitFixedBytes = commitMemberCountOffset + countBytes;
export const commitMemberNodeIdOffset = 0;
export const commitMemberOldRingIdOffset = nodeIdBytes;
export const commitMemberAruOffset = commitMemberOldRingIdOffset + ringIdBytes;
export const commitMemberHighDeliveredOffset = commitMemberAruOffset + 4;
export const commitMemberFlagsOffset = commitMemberHighDeliveredOffset + 4;
export const commitMemberBytes = commitMemberFlagsOffset + 1;
export const commitMemberFlagReceived = 0x01;
export const commitMemberFlagFilled = 0x02;

/** MergeDetect and TokenHoldCancel. */
export const ringOnlyRingIdOffset = headerBytes;
export const ringOnlyBytes = headerBytes + ringIdBytes;

assert(mcastHeaderBytes === 33, 'mcast header layout');
assert(tokenFixedBytes === 46, 'token layout');
assert(commitMemberBytes === 25, 'commit member layout');
assert(tokenBytesMax <= packetBytesMax, 'a full token fits one packet');
assert(joinFixedBytes + 2 * nodeCountMax * nodeIdBytes <= packetBytesMax, 'a full join fits one packet');
assert(commitFixedBytes + nodeCountMax * commitMemberBytes <= packetBytesMax, 'a full commit token fits one packet');
assert(rtrEntriesMax <= 0xffff, 'rtr count fits a uint16');
assert(nodeCountMax <= 0xffff, 'set and member counts fit a uint16');

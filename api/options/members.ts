/**
 * Who is in the ring and how they are reached: node ids, the `members` list and the transport.
 * Decisions taken here:
 * - `members` lists every node, this one included, each with the address the others reach it at
 *   (not a wildcard, not a multicast group); ids and addresses are unique.
 * - `bind` may be a wildcard (`0.0.0.0:5405`, `[::]:5405`) or any local address; when it names the
 *   same host as this node's own member address, the ports must agree (otherwise peers send to a
 *   port nobody listens on). A different host is allowed, for NAT and port mappings.
 * - All addresses (bind, members, multicast group) are of one family.
 * - `members` is returned sorted by node id, so that the listing order of the input is irrelevant.
 */
import { nodeCountMax } from '../../engine/constants.js';
import type { NodeId } from '../../engine/types.js';
import type { AddressFamily, NetAddress, ResolvedMember, TransportKind } from '../../workers/runtime-options.js';
import { formatAddress, isMulticast, isWildcard, parseAddress } from './address.js';
import { checkKnownKeys, describe, invalid, isRecord } from './validation.js';

export function parseNodeId(v: unknown, option: string): NodeId {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0xffffffff) {
    const why = `${option} must be an integer in 1..4294967295 (0 is reserved), got ${describe(v)}`;
    throw invalid(option, why);
  }
  return v;
}

/** The `members` option, checked against this node's id and bind address. */
export function parseMembers(v: unknown, nodeId: NodeId, bind: NetAddress): ResolvedMember[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw invalid(
      'members',
      `members must be a non-empty array of { nodeId, address } listing every node, this one (${nodeId}) included`,
    );
  }
  if (v.length > nodeCountMax) {
    throw invalid(
      'members',
      `members lists ${v.length} nodes; at most ${nodeCountMax} are supported`,
    );
  }
  const byId = new Map<NodeId, number>();
  const byAddress = new Map<string, number>();
  const out: ResolvedMember[] = [];
  v.forEach((entry: unknown, i) => {
    const where = `members[${i}]`;
    if (!isRecord(entry)) {
      throw invalid(where, `${where} must be an object { nodeId, address }, got ${describe(entry)}`);
    }
    checkKnownKeys(entry, ['nodeId', 'address'], `${where}.`, 'member key');
    const id = parseNodeId(entry.nodeId, `${where}.nodeId`);
    const address = parseAddress(entry.address, `${where}.address`);
    const at = `${where}.address ${JSON.stringify(entry.address)}`;
    if (isWildcard(address)) {
      throw invalid(
        `${where}.address`,
        `${at} is a wildcard; give the address other nodes reach it at`,
      );
    }
    if (isMulticast(address)) {
      throw invalid(
        `${where}.address`,
        `${at} is a multicast address; give the node's own address`,
      );
    }
    if (address.family !== bind.family) {
      const why = `${at} is ${address.family} but bind is ${bind.family}; use one address family throughout`;
      throw invalid(`${where}.address`, why);
    }
    const sameId = byId.get(id);
    if (sameId !== undefined) {
      throw invalid(
        `${where}.nodeId`,
        `${where}.nodeId ${id} is also the id of members[${sameId}]; node ids must be unique`,
      );
    }
    const text = formatAddress(address);
    const sameAddress = byAddress.get(text);
    if (sameAddress !== undefined) {
      throw invalid(
        `${where}.address`,
        `${at} is also the address of members[${sameAddress}]; addresses must be unique`,
      );
    }
    byId.set(id, i);
    byAddress.set(text, i);
    out.push({ nodeId: id, address });
  });
  const self = out.find((m) => m.nodeId === nodeId);
  if (self === undefined) {
    throw invalid(
      'members',
      `members does not list this node (nodeId ${nodeId}); list every node, this one included`,
    );
  }
  if (!isWildcard(bind) && bind.host === self.address.host && bind.port !== self.address.port) {
    const why = `bind ${formatAddress(bind)} and this node's member address ${formatAddress(self.address)}` +
      ' name the same host with different ports; use one port';
    throw invalid('bind', why);
  }
  return out.sort((a, b) => a.nodeId - b.nodeId);
}

/** `transport` and `multicastAddress`, which go together; `family` is that of bind. */
export function parseTransport(
  kind: unknown,
  group: unknown,
  family: AddressFamily,
): { transport: TransportKind; multicastAddress: NetAddress | null } {
  if (kind !== undefined && kind !== 'udpu' && kind !== 'multicast') {
    throw invalid('transport', `transport must be 'udpu' or 'multicast', got ${describe(kind)}`);
  }
  const transport: TransportKind = kind ?? 'udpu';
  if (transport === 'udpu') {
    if (group !== undefined) {
      throw invalid(
        'multicastAddress',
        "multicastAddress is used only with transport 'multicast'; remove it or set transport: 'multicast'",
      );
    }
    return { transport, multicastAddress: null };
  }
  if (group === undefined) {
    throw invalid(
      'multicastAddress',
      "transport 'multicast' needs multicastAddress, e.g. '239.192.0.1:5405'",
    );
  }
  const address = parseAddress(group, 'multicastAddress');
  if (!isMulticast(address)) {
    throw invalid(
      'multicastAddress',
      `multicastAddress ${formatAddress(address)} is not a multicast group (224.0.0.0/4, ff00::/8)`,
    );
  }
  if (address.family !== family) {
    throw invalid(
      'multicastAddress',
      `multicastAddress is ${address.family} but bind is ${family}; use one address family throughout`,
    );
  }
  return { transport, multicastAddress: address };
}

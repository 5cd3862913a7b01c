/**
 * Addresses as users write them ("a.b.c.d:port", "[v6]:port") and as the runtime reads them
 * (NetAddress). Decisions taken here:
 * - Addresses are literal IPs; a zone (`[fe80::1%eth0]:5405`) is kept. Host names are refused:
 *   the members of a ring must not change with DNS answers.
 * - Port 0 is refused everywhere, `bind` included: every node's address, port included, is listed
 *   in every node's `members` before start, so an ephemeral port could never be reached.
 * - IPv6 hosts are kept in one canonical form, so that equal addresses compare equal as text.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { AddressFamily, NetAddress } from '../../workers/runtime-options.js';
import { formatAddress } from '../../workers/runtime-options.js';
import { describe, invalid } from './validation.js';

const ipv4Wildcard = '0.0.0.0';
const ipv6Wildcard = '::';

/** Parse "a.b.c.d:port" or "[v6]:port"; `option` names the option in errors. */
export function parseAddress(v: unknown, option: string): NetAddress {
  if (typeof v !== 'string') {
    throw invalid(option, `${option} must be a "host:port" string, got ${describe(v)}`);
  }
  const bad = (why: string) => invalid(option, `${option} ${JSON.stringify(v)}: ${why}`);
  let host: string;
  let portText: string;
  let family: AddressFamily;
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    if (close < 0 || v[close + 1] !== ':') throw bad('write an IPv6 address as [address]:port, e.g. [fd00::1]:5405');
    host = v.slice(1, close);
    portText = v.slice(close + 2);
    if (!isIPv6(host)) throw bad(`'${host}' is not an IPv6 address`);
    host = canonicalIPv6(host);
    family = 'IPv6';
  } else {
    const colon = v.lastIndexOf(':');
    if (colon < 0) throw bad('the port is missing; write host:port, e.g. 10.0.0.1:5405');
    host = v.slice(0, colon);
    portText = v.slice(colon + 1);
    if (host.includes(':')) throw bad('write an IPv6 address in brackets, e.g. [fd00::1]:5405');
    if (!isIPv4(host)) throw bad(`'${host}' is not an IPv4 address (host names are not resolved; give the IP)`);
    family = 'IPv4';
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw bad(`'${portText}' is not a port number`);
  const port = Number(portText);
  if (port === 0) throw bad('port 0 is not allowed: every node must know the others\' ports before start');
  if (port > 65535) throw bad(`port ${port} is above 65535`);
  return { host, port, family };
}

/** Lower-case, compressed form (via the WHATWG URL parser), zone kept, so equal addresses compare equal. */
function canonicalIPv6(host: string): string {
  const pct = host.indexOf('%');
  const addr = pct < 0 ? host : host.slice(0, pct);
  const zone = pct < 0 ? '' : host.slice(pct);
  const hostname = new URL(`udp://[${addr}]/`).hostname;
  return `${hostname.slice(1, -1)}${zone}`;
}

export { formatAddress };

export function isWildcard(a: NetAddress): boolean {
  return a.host === ipv4Wildcard || a.host === ipv6Wildcard;
}

export function isMulticast(a: NetAddress): boolean {
  if (a.family === 'IPv6') return a.host.startsWith('ff');
  const first = Number(a.host.split('.')[0]);
  return first >= 224 && first <= 239;
}

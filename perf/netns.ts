/**
 * Hosts in Linux network namespaces, for the bench (`totem-evs bench --netns`) and the fault
 * tests (test/netns): one bridge namespace holding a Linux bridge `br0` (multicast snooping off,
 * so IP multicast is flooded to every port), and one namespace per node with a veth `eth0` whose
 * peer `v<i>` is a port of that bridge, addressed 198.18.0.<i>/24 (198.18.0.0/15 is reserved for
 * benchmarks, RFC 2544), `lo` up, and no default route: the only routes are the /24 and
 * 224.0.0.0/4 on eth0, so nothing, IP multicast included, can leave the bridge. Packet loss is an
 * nftables rule on a node namespace's prerouting hook, before defragmentation (per IP packet, so
 * per fragment). Root only; `netnsUnavailableReason()` says
 * whether this process can make them, and why not.
 *
 * Names: the bridge namespace is `<prefix>br`, node i's is `<prefix><i>`. Every namespace made
 * here carries a marker, the alias of its `lo` (`totem-evs netns pid=P start=T`: the creating
 * process and its start time), set right after the namespace is added, so a later run can tell
 * the leftovers of a process that has ended from namespaces that are someone else's or in use.
 * `teardown()` deletes only what this process created, and runs by itself when the process exits
 * without calling it (not on SIGKILL).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface NetnsCluster {
  /** Namespace of node i (1-based) is names[i - 1]. */
  readonly names: string[];
  /** The bridge namespace. */
  readonly bridge: string;
  /** Link MTU of every veth and of the bridge. */
  readonly mtu: number;
  /** Node i's IPv4 address, 198.18.0.<i>. */
  address(i: number): string;
  /** argv prefix that runs a command inside node i's namespace (`ip netns exec` execs it: same PID). */
  exec(i: number): string[];
  /** Drop `percent`% (0..100, two decimals) of the packets arriving at node i; 0 removes the rule. */
  setLoss(i: number, percent: number): void;
  /** Cut (or restore) node i's link to the bridge: a partition of that node. */
  setLinkUp(i: number, up: boolean): void;
  /** Delete every namespace this cluster created (idempotent). */
  teardown(): void;
}

export interface NetnsOptions {
  /** Bridge namespace `<prefix>br`, node namespaces `<prefix>1..<prefix>N`. */
  prefix: string;
  nodes: number;
  /** Link MTU (default 1500). */
  mtu?: number;
}

/** A namespace whose name a prefix claims, found on this host. */
export interface ExistingNamespace {
  name: string;
  /** The creating process, from the marker; null when there is no totem-evs marker. */
  owner: { pid: number; start: string } | null;
  /** True when the owner is this very process or is still running. */
  ownerAlive: boolean;
}

const markerText = /^totem-evs netns pid=(\d+) start=(\S+)$/;

function run(args: string[], input?: string): void {
  const r = spawnSync(args[0] as string, args.slice(1), { input, encoding: 'utf8', timeout: 10_000, stdio: ['pipe', 'ignore', 'pipe'] });
  if (r.status !== 0) {
    const why = r.error?.message ?? (r.stderr.trim() || `exit ${r.status ?? r.signal}`);
    throw new Error(`${args.join(' ')}: ${why}`);
  }
}

function available(command: string, versionFlag: string): boolean {
  return spawnSync(command, [versionFlag], { stdio: 'ignore' }).status === 0;
}

/**
 * null when namespaces can be made here; otherwise one line saying why not (for an error message
 * or a skipped suite). `nft`: nftables is needed too (packet loss).
 */
export function netnsUnavailableReason(needs: { nft: boolean } = { nft: true }): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (!available('ip', '-V')) return "the 'ip' command (iproute2) is missing: apt-get install iproute2";
  if (needs.nft && !available('nft', '--version')) return "the 'nft' command (nftables) is missing: apt-get install nftables";
  return null;
}

/** Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot), or null if it is gone. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function ownMarker(): string {
  return `totem-evs netns pid=${process.pid} start=${processStart(process.pid) ?? '0'}`;
}

function readMarker(ns: string): { pid: number; start: string } | null {
  const r = spawnSync('ip', ['-n', ns, '-j', 'link', 'show', 'dev', 'lo'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return null;
  try {
    const links = JSON.parse(r.stdout) as { ifalias?: string }[];
    const m = markerText.exec(links[0]?.ifalias ?? '');
    return m === null ? null : { pid: Number(m[1]), start: m[2] as string };
  } catch {
    return null;
  }
}

/** Every namespace on this host whose name `prefix` claims (`<prefix>br`, `<prefix><digits>`). */
export function existingNamespaces(prefix: string): ExistingNamespace[] {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  if (list.status !== 0) return [];
  const claimed = new RegExp(`^${prefix.replace(/[^a-zA-Z0-9]/g, '\\$&')}(br|[1-9]\\d*)$`);
  const names = list.stdout.split('\n').map((l) => l.split(' ')[0] as string).filter((n) => claimed.test(n));
  return names.sort().map((name) => {
    const owner = readMarker(name);
    const ownerAlive = owner !== null && (owner.pid === process.pid || processStart(owner.pid) === owner.start);
    return { name, owner, ownerAlive };
  });
}

/** Deletes namespaces by name (best effort); returns the names it could not delete. */
export function deleteNamespaces(names: readonly string[]): string[] {
  return names.filter((ns) => spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 }).status !== 0);
}

function lossRules(percent: number): string {
  // numgen draws 0..9999 per packet: hundredths of a percent. Prerouting at priority -500 runs
  // before IP defragmentation (-400): each fragment of a datagram larger than the link MTU is
  // dropped on its own, as on a real lossy link. On the input hook the kernel would already have
  // reassembled the datagram, and a 64 KiB datagram of 45 fragments would face the loss once.
  return `table inet totem_evs_loss {\n chain prerouting {\n  type filter hook prerouting priority -500; policy accept;\n  numgen random mod 10000 < ${Math.round(percent * 100)} drop\n }\n}\n`;
}

/** Creates the namespaces; throws (having deleted whatever it had made) if any step fails. */
export function createNetns(opts: NetnsOptions): NetnsCluster {
  const mtu = opts.mtu ?? 1500;
  const bridge = `${opts.prefix}br`;
  const names = Array.from({ length: opts.nodes }, (_, i) => `${opts.prefix}${i + 1}`);
  const marker = ownMarker();
  const created: string[] = [];
  const teardown = (): void => {
    deleteNamespaces([...created].reverse());
    created.length = 0;
    process.removeListener('exit', teardown);
  };
  // A process that ends without tearing down (an uncaught error, process.exit) still cleans up.
  process.on('exit', teardown);
  const addNamespace = (ns: string): void => {
    run(['ip', 'netns', 'add', ns]);
    created.push(ns);
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'alias', marker]);
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  };
  try {
    addNamespace(bridge);
    run(['ip', '-n', bridge, 'link', 'add', 'br0', 'mtu', String(mtu), 'type', 'bridge', 'mcast_snooping', '0']);
    run(['ip', '-n', bridge, 'link', 'set', 'br0', 'up']);
    names.forEach((ns, index) => {
      const i = index + 1;
      addNamespace(ns);
      run(['ip', '-n', ns, 'link', 'add', 'eth0', 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', `v${i}`, 'mtu', String(mtu), 'netns', bridge]);
      run(['ip', '-n', ns, 'addr', 'add', `198.18.0.${i}/24`, 'dev', 'eth0']);
      run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      // IP multicast goes out eth0 to the bridge; there is no other route (no default route).
      run(['ip', '-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
      run(['ip', '-n', bridge, 'link', 'set', `v${i}`, 'master', 'br0']);
      run(['ip', '-n', bridge, 'link', 'set', `v${i}`, 'up']);
    });
  } catch (err) {
    teardown();
    throw err;
  }
  const nsOf = (i: number): string => {
    const ns = names[i - 1];
    if (ns === undefined) throw new Error(`no node ${i} in this cluster of ${names.length}`);
    return ns;
  };
  return {
    names,
    bridge,
    mtu,
    address: (i) => `198.18.0.${i}`,
    exec: (i) => ['ip', 'netns', 'exec', nsOf(i)],
    setLoss: (i, percent) => {
      const ns = nsOf(i);
      spawnSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'totem_evs_loss'], { stdio: 'ignore', timeout: 10_000 });
      if (percent <= 0) return;
      run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], lossRules(percent));
    },
    setLinkUp: (i, up) => {
      nsOf(i);
      run(['ip', '-n', bridge, 'link', 'set', `v${i}`, up ? 'up' : 'down']);
    },
    teardown,
  };
}


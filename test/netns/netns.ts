/**
 * Test hosts in network namespaces: N node namespaces, each with one veth whose peer sits on a
 * bridge in a bridge namespace, addressed 198.18.0.<i>/24 (198.18.0.0/15 is reserved for
 * benchmarks, RFC 2544) and with no route out. Packet loss is an nftables rule on a node's input.
 * Root only: `netnsAvailable()` says whether this process can create them, and why not.
 *
 * Every name carries this process's pid, so concurrent runs never touch each other's namespaces,
 * and `teardown()` deletes only what `setup()` created.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export interface NetnsCluster {
  /** Namespace of node i (1-based) is names[i - 1]. */
  readonly names: string[];
  readonly bridge: string;
  address(i: number): string;
  /** argv prefix that runs a command inside node i's namespace. */
  exec(i: number): string[];
  /** Drop `percent`% of packets arriving at node i (0 removes the rule). */
  setLoss(i: number, percent: number): void;
  /** Cut (or restore) node i's link to the bridge: a partition of that node. */
  setLinkUp(i: number, up: boolean): void;
  teardown(): void;
}

function run(args: string[], input?: string): void {
  execFileSync(args[0] as string, args.slice(1), { stdio: ['pipe', 'ignore', 'pipe'], input, timeout: 10_000 });
}

/** null when namespaces can be made here; otherwise the reason a suite should print when it skips. */
export function netnsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs as root)';
  const ip = spawnSync('ip', ['-V'], { stdio: 'ignore' });
  if (ip.status !== 0) return "the 'ip' command (iproute2) is missing";
  const nft = spawnSync('nft', ['--version'], { stdio: 'ignore' });
  if (nft.status !== 0) return "the 'nft' command (nftables) is missing: apt-get install nftables";
  return null;
}

let clustersMade = 0;

export function setupNetns(nodes: number): NetnsCluster {
  clustersMade += 1;
  const tag = `tevs${process.pid % 100000}c${clustersMade}`;
  const bridge = `${tag}b`;
  const names = Array.from({ length: nodes }, (_, i) => `${tag}n${i + 1}`);
  const created: string[] = [];
  const teardown = (): void => {
    for (const ns of [...created].reverse()) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    created.length = 0;
  };
  try {
    run(['ip', 'netns', 'add', bridge]);
    created.push(bridge);
    run(['ip', '-n', bridge, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', bridge, 'link', 'add', 'br0', 'type', 'bridge']);
    run(['ip', '-n', bridge, 'link', 'set', 'br0', 'up']);
    names.forEach((ns, index) => {
      const i = index + 1;
      run(['ip', 'netns', 'add', ns]);
      created.push(ns);
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      run(['ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `v${i}`, 'netns', bridge]);
      run(['ip', '-n', ns, 'addr', 'add', `198.18.0.${i}/24`, 'dev', 'eth0']);
      run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      // IP multicast stays on the test network: the group range goes out eth0, nothing else does.
      run(['ip', '-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
      run(['ip', '-n', bridge, 'link', 'set', `v${i}`, 'master', 'br0']);
      run(['ip', '-n', bridge, 'link', 'set', `v${i}`, 'up']);
    });
  } catch (err) {
    teardown();
    throw err;
  }
  return {
    names,
    bridge,
    address: (i) => `198.18.0.${i}`,
    exec: (i) => ['ip', 'netns', 'exec', names[i - 1] as string],
    setLoss: (i, percent) => {
      const ns = names[i - 1] as string;
      spawnSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'tevsloss'], { stdio: 'ignore' });
      if (percent <= 0) return;
      const rules = `table inet tevsloss {\n chain input {\n  type filter hook input priority 0; policy accept;\n  numgen random mod 100 < ${Math.round(percent)} drop\n }\n}\n`;
      run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], rules);
    },
    setLinkUp: (i, up) => run(['ip', '-n', bridge, 'link', 'set', `v${i}`, up ? 'up' : 'down']),
    teardown,
  };
}

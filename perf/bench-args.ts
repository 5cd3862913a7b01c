/** What `totem-evs bench` was asked to run: its flags, parsed (perf/bench.ts), read by the report. */
export interface BenchArgs {
  nodes: number;
  sizeBytes: number;
  senders: number;
  order: 'agreed' | 'safe';
  rate: string;
  durationS: number;
  warmupS: number;
  netMtu: number | null;
  /** MTU of the namespaces' veths and bridge (--netns). */
  linkMtu: number | null;
  keyFile: string | null;
  tokenMs: number | null;
  window: number | null;
  maxMessages: number | null;
  scenario: 'steady' | 'failover' | 'restart';
  baseline: 'udp' | null;
  baselineS: number;
  reportFile: string | null;
  json: boolean;
  /** Each node in a network namespace of its own (perf/netns.ts). */
  netns: boolean;
  transport: 'udpu' | 'multicast';
  /** % of IP packets (fragments one by one) each node namespace drops on arrival; 0 without --loss. */
  lossPct: number;
}

/**
 * The arithmetic of rebalancing (EMQX's `emqx ctl rebalance start`), apart from any I/O:
 * its options and defaults, which nodes give load away (donors: above the mean) and which
 * take it (recipients), when the donors are close enough to the recipients (the
 * thresholds), and how many connections each donor sheds in one round.
 */

/** EMQX's start options, with EMQX's names (seconds, per-second rates). */
export interface RebalanceOpts {
  /** The nodes taking part (default: every running node). */
  nodes: string[];
  /** Seconds between donors failing availability_check and the first eviction. */
  wait_health_check: number;
  conn_evict_rate: number;
  sess_evict_rate: number;
  abs_conn_threshold: number;
  rel_conn_threshold: number;
  abs_sess_threshold: number;
  rel_sess_threshold: number;
  /** Seconds for evicted clients to come back elsewhere before offline sessions are moved. */
  wait_takeover: number;
}

/** EMQX's defaults (emqx_node_rebalance.hrl). */
export const REBALANCE_DEFAULTS: Omit<RebalanceOpts, 'nodes'> = {
  wait_health_check: 60,
  conn_evict_rate: 500,
  sess_evict_rate: 500,
  abs_conn_threshold: 1000,
  rel_conn_threshold: 1.1,
  abs_sess_threshold: 1000,
  rel_sess_threshold: 1.1,
  wait_takeover: 60,
};

/** What one node reports. */
export interface NodeCounts {
  /** Connected clients. */
  connections: number;
  /** Sessions, connected or not. */
  sessions: number;
  /** Sessions whose client is not connected (what the session phase moves). */
  disconnected: number;
}

export function avg(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** EMQX's test: balanced enough when the donors' average is within either threshold of the recipients'. */
export function withinThresholds(donorAvg: number, recipientAvg: number, abs: number, rel: number): boolean {
  return donorAvg <= recipientAvg + abs || donorAvg <= recipientAvg * rel;
}

export interface Split {
  donors: string[];
  recipients: string[];
  /** Mean connections over the nodes taking part. */
  connMean: number;
}

/** Donors: the nodes with more connections than the mean; recipients: the others. */
export function split(counts: ReadonlyMap<string, NodeCounts>): Split {
  const connMean = avg([...counts.values()].map((c) => c.connections));
  const donors: string[] = [];
  const recipients: string[] = [];
  for (const [node, c] of [...counts].sort(([a], [b]) => a.localeCompare(b))) (c.connections > connMean ? donors : recipients).push(node);
  return { donors, recipients, connMean };
}

const avgOf = (nodes: readonly string[], counts: ReadonlyMap<string, NodeCounts>, k: keyof NodeCounts) => avg(nodes.map((n) => counts.get(n)?.[k] ?? 0));

export interface Averages {
  donorConnAvg: number;
  recipientConnAvg: number;
  donorSessAvg: number;
  recipientSessAvg: number;
}

export function averages(s: Pick<Split, 'donors' | 'recipients'>, counts: ReadonlyMap<string, NodeCounts>): Averages {
  return {
    donorConnAvg: avgOf(s.donors, counts, 'connections'),
    recipientConnAvg: avgOf(s.recipients, counts, 'connections'),
    donorSessAvg: avgOf(s.donors, counts, 'disconnected'),
    recipientSessAvg: avgOf(s.recipients, counts, 'disconnected'),
  };
}

export function connsBalanced(a: Averages, o: RebalanceOpts): boolean {
  return withinThresholds(a.donorConnAvg, a.recipientConnAvg, o.abs_conn_threshold, o.rel_conn_threshold);
}

export function sessionsBalanced(a: Averages, o: RebalanceOpts): boolean {
  return withinThresholds(a.donorSessAvg, a.recipientSessAvg, o.abs_sess_threshold, o.rel_sess_threshold);
}

/** Whether there is anything to do: donors and recipients both, and connections or offline sessions out of balance. */
export function needRebalance(s: Split, counts: ReadonlyMap<string, NodeCounts>, o: RebalanceOpts): boolean {
  if (s.donors.length === 0 || s.recipients.length === 0) return false;
  const a = averages(s, counts);
  return !connsBalanced(a, o) || !sessionsBalanced(a, o);
}

/**
 * How many of `key` each donor sheds this round: down to `goal` (the mean the nodes would
 * have if the load were even), at most `perRound`. Unlike EMQX, which evicts a full
 * round's worth from every donor above the recipients' average, a donor never sheds below
 * the mean: with a high rate EMQX empties the donors onto the recipients and stops only
 * because the averages then cross.
 */
export function sheds(
  donors: readonly string[],
  counts: ReadonlyMap<string, NodeCounts>,
  key: 'connections' | 'disconnected',
  goal: number,
  perRound: number,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of donors) {
    const n = Math.min(perRound, Math.floor((counts.get(d)?.[key] ?? 0) - goal));
    if (n > 0) out.set(d, n);
  }
  return out;
}

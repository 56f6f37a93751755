/**
 * `vireo ctl rebalance start` without `--evacuation` (EMQX's rebalancing: this node
 * coordinates), `rebalance stop` of a rebalance, and the rebalance part of `rebalance
 * node-status`, over `/api/v5/load_rebalance/{node}/start|stop` and `global_status`.
 * ctl-rebalance.ts (evacuation) hands these over.
 */
import { parseDuration } from '@vireo/broker';
import type { CoordinatorStatus } from '@vireo/rebalance';

/** The options only rebalancing takes (merged into ctl's option table). */
export const REBALANCE_START_OPTIONS = {
  nodes: { type: 'string' },
  'abs-conn-threshold': { type: 'string' },
  'rel-conn-threshold': { type: 'string' },
  'abs-sess-threshold': { type: 'string' },
  'rel-sess-threshold': { type: 'string' },
} as const;

export const REBALANCE_START_USAGE = `  rebalance start [--nodes "NODE …"] [--wait-health-check T] [--conn-evict-rate N]
                  [--sess-evict-rate N] [--abs-conn-threshold N] [--rel-conn-threshold F]
                  [--abs-sess-threshold N] [--rel-sess-threshold F] [--wait-takeover T]
                                       Rebalance: this node coordinates; nodes above the mean
                                       shed connections until within the thresholds
`;

type Flags = Record<string, string | boolean | undefined>;
type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;

/** One coordinator's entry of `global_status` (EMQX's fields): the coordinator's status and its node. */
export type RebalanceEntry = CoordinatorStatus & { node: string };

/** Checks a flag's number; `usage` makes the error ctl reports with exit 2. */
function number(v: string | boolean | undefined, flag: string, min: number, integer: boolean, usage: (m: string) => Error): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw usage(`--${flag}: ${integer ? 'an integer' : 'a number'} ≥ ${min} expected, got "${String(v)}"`);
  }
  return n;
}

/** The longest wait the API takes (one day), in seconds. */
const MAX_WAIT_S = 86_400;

/**
 * A wait flag (`--wait-health-check`, `--wait-takeover`) in seconds: a bare number is seconds
 * (as before, and as EMQX's CLI takes it), or a duration string as the API takes (`10s`,
 * `1m30s`, `500ms`).
 */
export function waitFlag(v: string | boolean | undefined, flag: string, usage: (m: string) => Error): number | undefined {
  if (v === undefined) return undefined;
  const text = typeof v === 'string' ? v.trim() : '';
  const bare = /^\d+(\.\d+)?$/.test(text);
  const ms = bare ? undefined : parseDuration(text);
  const s = bare ? Number(text) : ms === undefined ? undefined : ms / 1000;
  if (s === undefined) throw usage(`--${flag}: seconds or a duration such as "10s" or "1m30s" expected, got "${String(v)}"`);
  if (s > MAX_WAIT_S) throw usage(`--${flag}: "${String(v)}" is longer than a day`);
  return s;
}

/** The request body of a rebalance start, from ctl's flags. */
export function rebalanceStartBody(v: Flags, usage: (m: string) => Error): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => value !== undefined && (body[key] = value);
  if (typeof v.nodes === 'string') {
    const nodes = v.nodes.split(/[\s,]+/).filter((n) => n !== '');
    if (nodes.length === 0) throw usage('--nodes: at least one node name expected');
    body.nodes = nodes;
  }
  put('wait_health_check', waitFlag(v['wait-health-check'], 'wait-health-check', usage));
  put('wait_takeover', waitFlag(v['wait-takeover'], 'wait-takeover', usage));
  put('conn_evict_rate', number(v['conn-evict-rate'], 'conn-evict-rate', 1, true, usage));
  put('sess_evict_rate', number(v['sess-evict-rate'], 'sess-evict-rate', 1, true, usage));
  put('abs_conn_threshold', number(v['abs-conn-threshold'], 'abs-conn-threshold', 1, true, usage));
  put('rel_conn_threshold', number(v['rel-conn-threshold'], 'rel-conn-threshold', 1, false, usage));
  put('abs_sess_threshold', number(v['abs-sess-threshold'], 'abs-sess-threshold', 1, true, usage));
  put('rel_sess_threshold', number(v['rel-sess-threshold'], 'rel-sess-threshold', 1, false, usage));
  if (v['redirect-to'] !== undefined || v['migrate-to'] !== undefined) throw usage('--redirect-to and --migrate-to go with --evacuation');
  return body;
}

export async function rebalanceStart(node: string, v: Flags, call: Call, usage: (m: string) => Error): Promise<string> {
  await call('POST', `/api/v5/load_rebalance/${encodeURIComponent(node)}/start`, rebalanceStartBody(v, usage));
  return `Rebalance started, coordinated by ${node}\n`;
}

/** The rebalances `node` takes part in, from `global_status`. */
export async function rebalancesOf(node: string, call: Call): Promise<{ coordinating?: RebalanceEntry; donating?: RebalanceEntry }> {
  const g = (await call('GET', '/api/v5/load_rebalance/global_status')) as { rebalances?: RebalanceEntry[] };
  const all = g.rebalances ?? [];
  return { coordinating: all.find((r) => r.node === node), donating: all.find((r) => r.donors.includes(node)) };
}

/** EMQX's `rebalance node-status` text for a coordinator or donor. */
export function rebalanceStatusText(node: string, r: { coordinating?: RebalanceEntry; donating?: RebalanceEntry }): string | undefined {
  const e = r.coordinating ?? r.donating;
  if (!e) return undefined;
  const role = r.coordinating ? 'rebalance coordinator' : 'rebalance donor';
  const opt = (label: string, v: number | undefined) => (v === undefined ? '' : `${label}: ${Math.round(v * 100) / 100}\n`);
  return (
    `Node ${node}: ${role}\n` +
    `Rebalance state: ${e.state}\n` +
    `Coordinator node: ${e.coordinator_node}\n` +
    `Donor nodes: ${e.donors.join(', ')}\n` +
    `Recipient nodes: ${e.recipients.join(', ')}\n` +
    `Connection eviction rate: ${e.connection_eviction_rate} connections/second\n` +
    `Session eviction rate: ${e.session_eviction_rate} sessions/second\n` +
    opt('Connection goal', e.connection_goal) +
    opt('Disconnected session goal', e.disconnected_session_goal) +
    opt('Current average donor node connection count', e.donor_conn_avg) +
    opt('Current average donor node disconnected session count', e.donor_sess_avg) +
    `Evicted connections: ${e.evicted_connections ?? 0}, moved sessions: ${e.evicted_sessions ?? 0}\n`
  );
}

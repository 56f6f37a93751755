/**
 * `vireo ctl rebalance start --evacuation …|stop|node-status` (EMQX's `emqx ctl rebalance …`),
 * over the HTTP API's `/api/v5/load_rebalance` endpoints, for the node the API belongs to.
 */
import { REBALANCE_START_OPTIONS, REBALANCE_START_USAGE, rebalanceStart, rebalanceStatusText, rebalancesOf, waitFlag } from './ctl-rebalance-start.js';

export const REBALANCE_USAGE = `  rebalance start --evacuation [--wait-health-check T] [--wait-takeover T] [--conn-evict-rate N]
                  [--sess-evict-rate N] [--redirect-to "HOST:PORT …"] [--migrate-to "NODE …"]
                                       Evacuate this node: refuse new clients, move clients and
                                       sessions to the other nodes (docs/evacuation.md); T:
                                       seconds, or a duration such as 10s, 1m30s
${REBALANCE_START_USAGE}  rebalance stop                       Stop this node's evacuation, or the rebalance it coordinates
  rebalance node-status                This node's evacuation or rebalance: state and progress
`;

/** The options `rebalance` takes (merged into ctl's option table). */
export const REBALANCE_OPTIONS = {
  evacuation: { type: 'boolean' },
  'wait-health-check': { type: 'string' },
  'wait-takeover': { type: 'string' },
  'conn-evict-rate': { type: 'string' },
  'sess-evict-rate': { type: 'string' },
  'redirect-to': { type: 'string' },
  'migrate-to': { type: 'string' },
  ...REBALANCE_START_OPTIONS,
} as const;

export type RebalanceOpts = { [K in keyof typeof REBALANCE_OPTIONS]?: (typeof REBALANCE_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;
type Out = (data: unknown, text: () => string) => string;

/** A usage mistake (exit 2). */
export class RebalanceUsageError extends Error {}

interface NodeStatus {
  node: string;
  status: 'enabled' | 'disabled';
  process?: string;
  state?: string;
  connection_eviction_rate?: number;
  session_eviction_rate?: number;
  session_recipients?: string[];
  stats?: Record<string, number>;
  evicted_connections?: number;
  pushed_sessions?: number;
  failed_sessions?: number;
}

function number(v: string | undefined, flag: string, min: number, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new RebalanceUsageError(`--${flag}: ${integer ? 'an integer' : 'a number'} ≥ ${min} expected, got "${v}"`);
  }
  return n;
}

/** Runs the command when it is a `rebalance` one; undefined when it is not. */
export function rebalanceCommand(p: string[], v: RebalanceOpts, call: Call, out: Out): Promise<string> | undefined {
  if (p[0] !== 'rebalance') return undefined;
  const sub = p[1];
  return (async () => {
    const self = async () => ((await call('GET', '/api/v5/load_rebalance/status')) as NodeStatus).node;
    switch (sub) {
      case 'start': {
        if (!v.evacuation) {
          const node = await self();
          const text = await rebalanceStart(node, v, call, (m) => new RebalanceUsageError(m));
          return out({ started: node }, () => text);
        }
        const body: Record<string, unknown> = {};
        const put = (key: string, value: unknown) => value !== undefined && (body[key] = value);
        const usage = (m: string) => new RebalanceUsageError(m);
        put('wait_health_check', waitFlag(v['wait-health-check'], 'wait-health-check', usage));
        put('wait_takeover', waitFlag(v['wait-takeover'], 'wait-takeover', usage));
        put('conn_evict_rate', number(v['conn-evict-rate'], 'conn-evict-rate', 1, true));
        put('sess_evict_rate', number(v['sess-evict-rate'], 'sess-evict-rate', 1, true));
        if (v['redirect-to'] !== undefined) body.redirect_to = v['redirect-to'].trim();
        if (v['migrate-to'] !== undefined) body.migrate_to = v['migrate-to'].split(/[\s,]+/).filter((n) => n !== '');
        const node = await self();
        const r = await call('POST', `/api/v5/load_rebalance/${encodeURIComponent(node)}/evacuation/start`, body);
        return out(r, () => `Rebalance(evacuation) started on ${node}\n`);
      }
      case 'stop': {
        const node = await self();
        if ((await rebalancesOf(node, call)).coordinating) {
          await call('POST', `/api/v5/load_rebalance/${encodeURIComponent(node)}/stop`);
          return out({ stopped: node }, () => `Rebalance stopped on ${node}\n`);
        }
        await call('POST', `/api/v5/load_rebalance/${encodeURIComponent(node)}/evacuation/stop`);
        return out({ stopped: node }, () => `Rebalance(evacuation) stopped on ${node}\n`);
      }
      case 'node-status': {
        const s = (await call('GET', '/api/v5/load_rebalance/status')) as NodeStatus;
        // a rebalance (this node a donor, or coordinating): its text names the role and every node
        if (s.status !== 'enabled' || s.process === 'rebalance') {
          const r = await rebalancesOf(s.node, call);
          const text = rebalanceStatusText(s.node, r);
          if (text) return out(r, () => text);
        }
        return out(s, () => statusText(s));
      }
      default:
        throw new RebalanceUsageError(`unknown command: ${p.join(' ')}`);
    }
  })();
}

/** EMQX's `rebalance node-status` text. */
function statusText(s: NodeStatus): string {
  if (s.status !== 'enabled') return `Rebalance status of ${s.node}: disabled\n`;
  const stats = Object.entries(s.stats ?? {})
    .map(([k, n]) => `  ${k}: ${n}\n`)
    .join('');
  return (
    `Node: ${s.node}\n` +
    `Rebalance type: ${s.process}\n` +
    `Rebalance state: ${s.state}\n` +
    `Connection eviction rate: ${s.connection_eviction_rate} connections/second\n` +
    `Session eviction rate: ${s.session_eviction_rate} sessions/second\n` +
    `Session recipient nodes: ${(s.session_recipients ?? []).join(', ') || '-'}\n` +
    `Evicted connections: ${s.evicted_connections ?? 0}, pushed sessions: ${s.pushed_sessions ?? 0}, failed: ${s.failed_sessions ?? 0}\n` +
    `Channel statistics:\n${stats}`
  );
}

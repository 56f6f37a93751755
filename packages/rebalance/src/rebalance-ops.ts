/**
 * Rebalancing between nodes: the admin operations every node serves to the coordinator
 * (counts, enable/disable as a donor, evict connections or sessions) and to the HTTP API
 * of any node (start, stop, status), with their argument schemas (checked before a handler
 * runs, as every admin operation's are), and the coordinator's `DonorControl` over them.
 */
import type { RebalanceAgent, DonorStatus } from './rebalance-agent.js';
import type { CoordinatorStatus, DonorControl, RebalanceCoordinator, StartResult } from './rebalance-coordinator.js';
import type { NodeCounts, RebalanceOpts } from './rebalance-plan.js';
import { WAIT_SCHEMA } from './wait-durations.js';

/** Calls `op` on `node` (this node's own handler when it is this node). */
export type NodeCall = (node: string, op: string, args: unknown) => Promise<unknown>;

type Args = Record<string, unknown>;
type Schema = Record<string, unknown>;

const node = { type: 'string', minLength: 1, maxLength: 256 } as const;
const count = { type: 'integer', minimum: 0, maximum: 10_000_000 } as const;
const rate = { type: 'integer', minimum: 1, maximum: 10_000_000 } as const;
const obj = (properties: Schema, required: string[]): Schema => ({ type: 'object', additionalProperties: false, required, properties });

/** EMQX's start fields, as the HTTP API and `vireo ctl` take them. */
export const rebalanceStartProps = {
  nodes: { type: 'array', items: node, minItems: 1, maxItems: 1000, uniqueItems: true },
  wait_health_check: { type: 'number', minimum: 0, maximum: 86_400 },
  conn_evict_rate: rate,
  sess_evict_rate: rate,
  abs_conn_threshold: { type: 'integer', minimum: 1, maximum: 10_000_000 },
  rel_conn_threshold: { type: 'number', minimum: 1, maximum: 1000 },
  abs_sess_threshold: { type: 'integer', minimum: 1, maximum: 10_000_000 },
  rel_sess_threshold: { type: 'number', minimum: 1, maximum: 1000 },
  wait_takeover: { type: 'number', minimum: 0, maximum: 86_400 },
} as const;

/** The start fields of the HTTP API: the waits also as duration strings (EMQX's `"10s"`), made seconds before the admin operation. */
export const rebalanceStartApiProps = { ...rebalanceStartProps, wait_health_check: WAIT_SCHEMA, wait_takeover: WAIT_SCHEMA } as const;

const fullOpts = obj(rebalanceStartProps, Object.keys(rebalanceStartProps));

export const REBALANCE_OP_SCHEMAS: Record<string, Schema> = {
  'rebalance.counts': obj({}, []),
  'rebalance.donor_enable': obj({ coordinator: node, opts: fullOpts }, ['coordinator', 'opts']),
  'rebalance.donor_disable': obj({ coordinator: node }, ['coordinator']),
  'rebalance.evict_conns': obj({ coordinator: node, count, rate }, ['coordinator', 'count', 'rate']),
  'rebalance.evict_sessions': obj({ coordinator: node, count, rate, recipients: { type: 'array', items: node, maxItems: 1000 } }, ['coordinator', 'count', 'rate', 'recipients']),
  'rebalance.start': obj({ opts: fullOpts }, ['opts']),
  'rebalance.stop': obj({}, []),
  'rebalance.rebalance_status': obj({}, []),
};

/** One node's rebalance status: as coordinator, as donor, both or neither. */
export interface RebalanceParticipation {
  coordinator?: CoordinatorStatus;
  donor?: DonorStatus;
}

export function rebalanceOps(agent: RebalanceAgent, coordinator: RebalanceCoordinator): Record<string, (a: Args) => unknown> {
  const s = (a: Args, k: string) => a[k] as string;
  const n = (a: Args, k: string) => a[k] as number;
  return {
    'rebalance.counts': (): NodeCounts => agent.counts(),
    'rebalance.donor_enable': (a) => (agent.enable(s(a, 'coordinator'), a.opts as RebalanceOpts), true),
    'rebalance.donor_disable': (a) => agent.disable(s(a, 'coordinator')),
    'rebalance.evict_conns': (a) => agent.evictConns(s(a, 'coordinator'), n(a, 'count'), n(a, 'rate')),
    'rebalance.evict_sessions': (a) => agent.evictSessions(s(a, 'coordinator'), n(a, 'count'), n(a, 'rate'), a.recipients as string[]),
    'rebalance.start': (a): Promise<StartResult> => coordinator.start(a.opts as RebalanceOpts),
    'rebalance.stop': () => coordinator.stop(),
    'rebalance.rebalance_status': (): RebalanceParticipation => ({ coordinator: coordinator.status(), donor: agent.status() }),
  };
}

/** The coordinator's hands, through `call` (rebalance-coordinator.ts). */
export function donorControl(call: NodeCall): DonorControl {
  return {
    counts: async (n) => (await call(n, 'rebalance.counts', {})) as NodeCounts,
    enable: async (n, coordinator, opts) => void (await call(n, 'rebalance.donor_enable', { coordinator, opts })),
    disable: async (n, coordinator) => void (await call(n, 'rebalance.donor_disable', { coordinator })),
    evictConns: async (n, coordinator, k, r) => (await call(n, 'rebalance.evict_conns', { coordinator, count: k, rate: r })) as number,
    evictSessions: async (n, coordinator, k, r, recipients) => (await call(n, 'rebalance.evict_sessions', { coordinator, count: k, rate: r, recipients })) as number,
  };
}

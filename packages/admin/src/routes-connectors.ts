/**
 * `/actions` and `/connectors` (EMQX 5's data integration API, read side): every node runs
 * its own connections and buffers, so each action and connector is shown with its status
 * and counters per node, counters summed, and `inconsistent` when nodes disagree.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorSchema, notFound } from './errors.js';
import { markPartial, type ClusterQuery, type NodeError } from './cluster-query.js';
import type { RulesApi } from './rules-table.js';

export interface ActionMetrics {
  success: number;
  failed: number;
  dropped: number;
  retried: number;
  queuing: number;
  queuing_bytes: number;
}

interface NodeAction {
  id: string;
  connector: string;
  status: string;
  status_reason: string | undefined;
  metrics: ActionMetrics;
}

interface NodeConnector {
  id: string;
  status: string;
}

interface NodeReport {
  actions: NodeAction[];
  connectors: NodeConnector[];
}

const METRIC_KEYS = ['success', 'failed', 'dropped', 'retried', 'queuing', 'queuing_bytes'] as const;

export function actionMetricsOf(s: RulesApi['sinks'] extends ReadonlyMap<string, infer S> ? S : never): ActionMetrics {
  const st = s.stats;
  return { success: st.success, failed: st.failed, dropped: st.dropped, retried: st.retried, queuing: st.queued, queuing_bytes: st.queuedBytes };
}

/** This node's part: the `rules.sinks` admin call. */
export function connectorOps(rules: RulesApi): Record<string, () => NodeReport> {
  return {
    'rules.sinks': () => ({
      actions: [...rules.sinks.values()].map((s) => ({
        id: s.id,
        connector: `${s.id.split(':')[0]}:${s.connector.name}`,
        status: s.status,
        status_reason: s.status === 'connected' ? undefined : s.error,
        metrics: actionMetricsOf(s),
      })),
      connectors: [...rules.connectors.entries()].map(([id, c]) => ({ id, status: c.status })),
    }),
  };
}

interface View {
  id: string;
  type: string;
  name: string;
  status: string;
  node_status: { node: string; status: string; status_reason?: string }[];
}

type ActionView = View & { connector: string; metrics: ActionMetrics; node_metrics: { node: string; metrics: ActionMetrics }[] };

function merge(parts: { node: string; value: NodeReport }[]): { actions: ActionView[]; connectors: View[] } {
  const actions = new Map<string, ActionView>();
  const connectors = new Map<string, View>();
  const base = (id: string, status: string): View => ({ id, type: id.split(':')[0]!, name: id.slice(id.indexOf(':') + 1), status, node_status: [] });
  for (const { node, value } of parts) {
    for (const a of value.actions) {
      let v = actions.get(a.id);
      if (!v)
        actions.set(
          a.id,
          (v = { ...base(a.id, a.status), connector: a.connector, metrics: { success: 0, failed: 0, dropped: 0, retried: 0, queuing: 0, queuing_bytes: 0 }, node_metrics: [] }),
        );
      if (v.status !== a.status) v.status = 'inconsistent';
      v.node_status.push({ node, status: a.status, ...(a.status_reason ? { status_reason: a.status_reason } : {}) });
      v.node_metrics.push({ node, metrics: a.metrics });
      for (const k of METRIC_KEYS) v.metrics[k] += a.metrics[k];
    }
    for (const c of value.connectors) {
      let v = connectors.get(c.id);
      if (!v) connectors.set(c.id, (v = base(c.id, c.status)));
      if (v.status !== c.status) v.status = 'inconsistent';
      v.node_status.push({ node, status: c.status });
    }
  }
  const sorted = <T extends { id: string }>(m: Map<string, T>) => [...m.values()].sort((a, b) => a.id.localeCompare(b.id));
  return { actions: sorted(actions), connectors: sorted(connectors) };
}

const statusSchema = {
  status: { type: 'string', description: 'connected, connecting, disconnected, or inconsistent when nodes differ' },
  node_status: { type: 'array', items: { type: 'object', properties: { node: { type: 'string' }, status: { type: 'string' }, status_reason: { type: 'string' } } } },
} as const;
const metricsSchema = { type: 'object', properties: Object.fromEntries(METRIC_KEYS.map((k) => [k, { type: 'integer' }])) } as const;
const connectorSchema = { type: 'object', properties: { id: { type: 'string' }, type: { type: 'string' }, name: { type: 'string' }, ...statusSchema } } as const;
const actionSchema = {
  type: 'object',
  properties: {
    ...connectorSchema.properties,
    connector: { type: 'string' },
    metrics: metricsSchema,
    node_metrics: { type: 'array', items: { type: 'object', properties: { node: { type: 'string' }, metrics: metricsSchema } } },
  },
} as const;

export function connectorRoutes(app: FastifyInstance, q: ClusterQuery): void {
  const gather = async (reply: FastifyReply): Promise<{ actions: ActionView[]; connectors: View[]; errors: NodeError[] }> => {
    const g = await q.gather<NodeReport>('rules.sinks', {});
    markPartial(reply, g.errors);
    return { ...merge(g.parts), errors: g.errors };
  };
  const params = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
  app.get(
    '/api/v5/actions',
    { schema: { summary: 'Every action (PostgreSQL, Redis, HTTP) with status and counters per node', tags: ['rules'], response: { 200: { type: 'array', items: actionSchema } } } },
    async (_req, reply) => (await gather(reply)).actions,
  );
  app.get<{ Params: { id: string } }>(
    '/api/v5/actions/:id',
    { schema: { summary: 'One action by id (`<type>:<name>`)', tags: ['rules'], params, response: { 200: actionSchema, 404: errorSchema } } },
    async (req, reply) => (await gather(reply)).actions.find((a) => a.id === req.params.id) ?? notFound(reply, 'NOT_FOUND', `no action ${req.params.id}`),
  );
  app.get(
    '/api/v5/connectors',
    { schema: { summary: 'Every connector in use with its status per node', tags: ['rules'], response: { 200: { type: 'array', items: connectorSchema } } } },
    async (_req, reply) => (await gather(reply)).connectors,
  );
  app.get<{ Params: { id: string } }>(
    '/api/v5/connectors/:id',
    { schema: { summary: 'One connector by id (`<type>:<name>`)', tags: ['rules'], params, response: { 200: connectorSchema, 404: errorSchema } } },
    async (req, reply) => (await gather(reply)).connectors.find((c) => c.id === req.params.id) ?? notFound(reply, 'NOT_FOUND', `no connector ${req.params.id}`),
  );
}

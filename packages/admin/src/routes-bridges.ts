/**
 * `/bridges` (EMQX 5's data bridges API, read side): every MQTT bridge of every node, with
 * its status and counters per node and summed. Each node runs its own connection of a
 * bridge, so a bridge is `connected` when it is on every node, `inconsistent` otherwise.
 */
import type { FastifyInstance } from 'fastify';
import { errorSchema, notFound } from './errors.js';
import { markPartial, type ClusterQuery, type NodeError } from './cluster-query.js';

/** One bridge as its node runs it (the bridge package's `MqttBridge`, structurally). */
export interface BridgeSource {
  info(): { type: string; name: string; server: string; ingress: string | undefined; egress: string | undefined; lastError: string | undefined };
  stats(): BridgeMetrics & { status: string };
}

export interface BridgeMetrics {
  matched: number;
  success: number;
  failed: number;
  dropped: number;
  queuing: number;
  inflight: number;
  received: number;
}

/** One node's report of one bridge (the `bridges.list` admin call). */
export interface NodeBridge {
  type: string;
  name: string;
  server: string;
  ingress: string | undefined;
  egress: string | undefined;
  status: string;
  status_reason: string | undefined;
  metrics: BridgeMetrics;
}

export interface BridgeView {
  id: string;
  type: string;
  name: string;
  server: string;
  ingress: string | null;
  egress: string | null;
  status: string;
  node_status: { node: string; status: string; status_reason?: string }[];
  metrics: BridgeMetrics;
  node_metrics: { node: string; metrics: BridgeMetrics }[];
}

const METRIC_KEYS = ['matched', 'success', 'failed', 'dropped', 'queuing', 'inflight', 'received'] as const;

/** This node's part: the `bridges.list` admin call. */
export function bridgeOps(bridges: () => readonly BridgeSource[]): Record<string, () => NodeBridge[]> {
  return {
    'bridges.list': () =>
      bridges().map((b) => {
        const { status, ...metrics } = b.stats();
        const i = b.info();
        return {
          type: i.type,
          name: i.name,
          server: i.server,
          ingress: i.ingress,
          egress: i.egress,
          status,
          status_reason: status === 'connected' ? undefined : i.lastError,
          metrics,
        };
      }),
  };
}

/** Every node's reports merged by bridge id. */
export function mergeBridges(parts: { node: string; value: NodeBridge[] }[]): BridgeView[] {
  const byId = new Map<string, BridgeView>();
  for (const { node, value } of parts) {
    for (const b of value) {
      const id = `${b.type}:${b.name}`;
      let v = byId.get(id);
      if (!v) {
        v = {
          id,
          type: b.type,
          name: b.name,
          server: b.server,
          ingress: b.ingress ?? null,
          egress: b.egress ?? null,
          status: b.status,
          node_status: [],
          metrics: { matched: 0, success: 0, failed: 0, dropped: 0, queuing: 0, inflight: 0, received: 0 },
          node_metrics: [],
        };
        byId.set(id, v);
      }
      // standby: a node where another runs the ingress, not a disagreement
      if (v.status === 'standby') v.status = b.status;
      else if (v.status !== b.status && b.status !== 'standby') v.status = 'inconsistent';
      v.node_status.push({ node, status: b.status, ...(b.status_reason ? { status_reason: b.status_reason } : {}) });
      v.node_metrics.push({ node, metrics: b.metrics });
      for (const k of METRIC_KEYS) v.metrics[k] += b.metrics[k];
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

const metricsSchema = { type: 'object', properties: Object.fromEntries(METRIC_KEYS.map((k) => [k, { type: 'integer' }])) } as const;
const bridgeSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    name: { type: 'string' },
    server: { type: 'string' },
    ingress: { type: ['string', 'null'] },
    egress: { type: ['string', 'null'] },
    status: { type: 'string', description: 'connected, connecting, disconnected, or inconsistent when nodes differ' },
    node_status: { type: 'array', items: { type: 'object', properties: { node: { type: 'string' }, status: { type: 'string' }, status_reason: { type: 'string' } } } },
    metrics: metricsSchema,
    node_metrics: { type: 'array', items: { type: 'object', properties: { node: { type: 'string' }, metrics: metricsSchema } } },
  },
} as const;

export function bridgeRoutes(app: FastifyInstance, q: ClusterQuery): void {
  const gather = async (): Promise<{ views: BridgeView[]; errors: NodeError[] }> => {
    const g = await q.gather<NodeBridge[]>('bridges.list', {});
    return { views: mergeBridges(g.parts), errors: g.errors };
  };
  app.get(
    '/api/v5/bridges',
    { schema: { summary: 'Every MQTT bridge of the cluster, with status and counters per node', tags: ['bridges'], response: { 200: { type: 'array', items: bridgeSchema } } } },
    async (_req, reply) => {
      const { views, errors } = await gather();
      markPartial(reply, errors);
      return views;
    },
  );
  app.get<{ Params: { id: string } }>(
    '/api/v5/bridges/:id',
    {
      schema: {
        summary: 'One bridge by id (`mqtt:<name>`)',
        tags: ['bridges'],
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: bridgeSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const { views, errors } = await gather();
      markPartial(reply, errors);
      const v = views.find((b) => b.id === req.params.id);
      return v ?? notFound(reply, 'BRIDGE_NOT_FOUND', `no bridge ${req.params.id}`);
    },
  );
}

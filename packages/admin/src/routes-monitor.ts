/**
 * EMQX's time-series API for the dashboard's charts: `/monitor?latest=SECONDS` (samples,
 * every node's summed point by point) and `/monitor_current` (gauges now, rates over the
 * last interval), each also per node at `…/nodes/{node}`. Each node keeps its own series
 * (monitor.ts); the cluster's is gathered through the admin calls `monitor.samples` and
 * `monitor.current`. A node that does not answer is left out and named in `x-vireo-partial`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorSchema, notFound } from './errors.js';
import { markPartial, nodeError, type ClusterQuery } from './cluster-query.js';
import { combine, mergeSeries, type CurrentView, type Monitor, type Sample } from './monitor.js';

type Op = (a: Record<string, unknown>) => unknown;

/** This node's part, for its own API and its peers'. */
export function monitorOps(monitor: Monitor): Record<string, Op> {
  return {
    'monitor.samples': (a) => monitor.list(typeof a.latest === 'number' && a.latest > 0 ? a.latest : undefined),
    'monitor.current': () => monitor.current(),
  };
}

const latestQuery = {
  type: 'object',
  properties: { latest: { type: 'integer', minimum: 1, maximum: 86_400, description: 'seconds back from now; default: all kept (an hour)' } },
} as const;
const nodeParam = { type: 'object', required: ['node'], properties: { node: { type: 'string' } } } as const;

export function monitorRoutes(app: FastifyInstance, q: ClusterQuery): void {
  const one = async <T>(reply: FastifyReply, node: string, op: string, args: unknown): Promise<T | FastifyReply> => {
    if (!q.nodes().includes(node)) return notFound(reply, 'NOT_FOUND', `node ${node} is not a running node of the cluster`);
    try {
      return await q.call<T>(node, op, args);
    } catch (err) {
      return reply.code(503).send({ code: 'NODE_DOWN', message: nodeError(node, err).message });
    }
  };

  app.get<{ Querystring: { latest?: number } }>(
    '/api/v5/monitor',
    {
      schema: {
        summary: 'Samples of the whole cluster (every node summed per time stamp): connections, subscriptions, topics, and messages received/sent/dropped per interval',
        tags: ['metrics'],
        querystring: latestQuery,
      },
    },
    async (req, reply) => {
      const g = await q.gather<Sample[]>('monitor.samples', { latest: req.query.latest });
      markPartial(reply, g.errors);
      return mergeSeries(g.parts.map((p) => p.value));
    },
  );

  app.get<{ Params: { node: string }; Querystring: { latest?: number } }>(
    '/api/v5/monitor/nodes/:node',
    { schema: { summary: "One node's samples", tags: ['metrics'], params: nodeParam, querystring: latestQuery, response: { 404: errorSchema, 503: errorSchema } } },
    async (req, reply) => one<Sample[]>(reply, req.params.node, 'monitor.samples', { latest: req.query.latest }),
  );

  app.get(
    '/api/v5/monitor_current',
    { schema: { summary: 'The cluster now: gauges summed, message rates per second over the last interval', tags: ['metrics'] } },
    async (_req, reply) => {
      const g = await q.gather<CurrentView>('monitor.current', null);
      markPartial(reply, g.errors);
      const { node_uptime: _uptime, ...sum } = combine(g.parts.map((p) => p.value));
      return { ...sum, nodes: g.parts.length, nodes_down: g.errors.map((e) => e.node) };
    },
  );

  app.get<{ Params: { node: string } }>(
    '/api/v5/monitor_current/nodes/:node',
    { schema: { summary: 'One node now (with node_uptime, seconds)', tags: ['metrics'], params: nodeParam, response: { 404: errorSchema, 503: errorSchema } } },
    async (req, reply) => one<CurrentView>(reply, req.params.node, 'monitor.current', null),
  );
}

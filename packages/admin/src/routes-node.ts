/**
 * Node facts: `/status` (probes), `/nodes`, `/stats`, `/metrics` (every node's, gathered
 * over the cluster), `/listeners` (this node's).
 */
import type { FastifyInstance } from 'fastify';
import type { Broker } from '@vireo/broker';
import { notFound, errorSchema } from './errors.js';
import { markPartial, nodeError, type ClusterQuery } from './cluster-query.js';
import type { NodeInfo } from './node-facts.js';

/** Replicated to every node, so the same on each: an aggregate takes one node's, not the sum. */
const SAME_ON_EVERY_NODE = new Set(['retained.count']);

/** EMQX's `aggregate=true`: one object, numbers summed over the nodes, no `node` field. */
function aggregate(parts: Record<string, unknown>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of parts) {
    for (const [k, v] of Object.entries(p)) {
      if (typeof v !== 'number') continue;
      out[k] = SAME_ON_EVERY_NODE.has(k) ? Math.max(out[k] ?? 0, v) : (out[k] ?? 0) + v;
    }
  }
  return out;
}

export function nodeRoutes(app: FastifyInstance, broker: Broker, q: ClusterQuery, ready: () => boolean): void {
  // liveness and readiness for probes, in EMQX's plain-text shape
  const status = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const up = ready();
    return reply
      .code(up ? 200 : 503)
      .type('text/plain')
      .send(`Node ${broker.options.nodeName} is ${up ? 'started' : 'starting'}\nvireo is ${up ? 'running' : 'not_running'}\n`);
  };
  app.get('/status', { schema: { summary: 'Liveness and readiness: 200 when the node serves MQTT', tags: ['status'] } }, status);
  app.get('/api/v5/status', { schema: { summary: 'Same as /status', tags: ['status'] } }, status);

  app.get('/api/v5/nodes', { schema: { summary: 'Every running node of the cluster; one that does not answer is listed as `stopped` with its error', tags: ['nodes'] } }, async (_req, reply) => {
    const g = await q.gather<NodeInfo>('node.info', null);
    markPartial(reply, g.errors);
    return [...g.parts.map((p) => p.value), ...g.errors.map((e) => ({ node: e.node, node_status: 'stopped', error: e.message }))].sort((a, b) => (a.node < b.node ? -1 : 1));
  });
  app.get<{ Params: { node: string } }>(
    '/api/v5/nodes/:node',
    { schema: { summary: 'One node', tags: ['nodes'], params: { type: 'object', properties: { node: { type: 'string' } } }, response: { 404: errorSchema, 503: errorSchema } } },
    async (req, reply) => {
      const node = req.params.node;
      if (!q.nodes().includes(node)) return notFound(reply, 'NOT_FOUND', 'node not found');
      try {
        return await q.call<NodeInfo>(node, 'node.info', null);
      } catch (err) {
        return reply.code(503).send({ code: 'NODE_DOWN', message: nodeError(node, err).message });
      }
    },
  );
  const perNode = (op: string) => async (req: { query: { aggregate?: boolean } }, reply: import('fastify').FastifyReply) => {
    const g = await q.gather<Record<string, unknown>>(op, null);
    markPartial(reply, g.errors);
    const values = g.parts.map((p) => p.value);
    return req.query.aggregate ? aggregate(values) : values;
  };
  const aggregateQuery = { type: 'object', properties: { aggregate: { type: 'boolean' } } } as const;
  app.get<{ Querystring: { aggregate?: boolean } }>(
    '/api/v5/stats',
    { schema: { summary: 'Counts per node (connections, sessions, topics, subscriptions, retained); `aggregate=true`: summed over the cluster', tags: ['metrics'], querystring: aggregateQuery } },
    perNode('node.stats'),
  );
  app.get<{ Querystring: { aggregate?: boolean } }>(
    '/api/v5/metrics',
    { schema: { summary: 'Message, packet and client counters per node; `aggregate=true`: summed over the cluster', tags: ['metrics'], querystring: aggregateQuery } },
    perNode('node.metrics'),
  );
  app.get('/api/v5/listeners', { schema: { summary: 'Listeners with their connections and disconnects by reason', tags: ['listeners'] } }, async () =>
    broker.listenerStats().map((l) => ({
      id: l.name,
      type: l.type,
      bind: l.bind,
      running: true,
      current_connections: l.connections,
      max_connections: broker.options.listeners.find((o) => o.name === l.name)?.maxConnections ?? null,
      shutdown_count: l.shutdownCount,
    })),
  );
}

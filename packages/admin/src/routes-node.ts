/**
 * Node facts: `/status` (probes, this node's), `/nodes`, `/stats`, `/metrics`, `/listeners`
 * (every node's, gathered over the cluster).
 */
import type { FastifyInstance } from 'fastify';
import type { Broker } from '@vireo/broker';
import { notFound, errorSchema } from './errors.js';
import { markPartial, nodeError, type ClusterQuery } from './cluster-query.js';
import type { ListenerView, NodeInfo } from './node-facts.js';

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

/**
 * Listeners of every node merged by id, as EMQX lists them: `status` for the cluster
 * (connections summed, `running` true, false or `inconsistent`) and `node_status` per node;
 * the flat fields sum the nodes too, `bind` is the asked node's.
 */
function mergeListeners(self: string, parts: { node: string; value: ListenerView[] }[]) {
  const byId = new Map<string, { node: string; l: ListenerView }[]>();
  for (const p of parts) for (const l of p.value) byId.set(l.id, [...(byId.get(l.id) ?? []), { node: p.node, l }]);
  return [...byId.values()].map((copies) => {
    const mine = copies.find((c) => c.node === self) ?? copies[0]!;
    const running = copies.every((c) => c.l.running) ? true : copies.some((c) => c.l.running) ? 'inconsistent' : false;
    const current = copies.reduce((n, c) => n + c.l.current_connections, 0);
    const max = copies.some((c) => c.l.max_connections === null) ? null : copies.reduce((n, c) => n + (c.l.max_connections ?? 0), 0);
    const shutdown: Record<string, number> = {};
    for (const c of copies) for (const [reason, n] of Object.entries(c.l.shutdown_count)) shutdown[reason] = (shutdown[reason] ?? 0) + n;
    return {
      ...mine.l,
      running: running === true,
      current_connections: current,
      max_connections: max,
      shutdown_count: shutdown,
      status: { running, current_connections: current, max_connections: max },
      node_status: copies.map((c) => ({ node: c.node, status: { running: c.l.running, current_connections: c.l.current_connections, max_connections: c.l.max_connections } })),
    };
  });
}

/** A node of the cluster view that is not running (membership: `stopped` or `down`, until autoclean). */
export interface AbsentNode {
  node: string;
  status: string;
  since: number;
}

export function nodeRoutes(app: FastifyInstance, broker: Broker, q: ClusterQuery, ready: () => boolean, absent: () => AbsentNode[] = () => []): void {
  // probes, in EMQX's plain-text shape: /status is liveness (the node serves), /api/v5/status
  // readiness (it serves and has joined its cluster: a liveness probe must not restart a
  // node that is only waiting for its peers)
  const answer = (reply: import('fastify').FastifyReply, up: boolean) =>
    reply
      .code(up ? 200 : 503)
      .type('text/plain')
      .send(`Node ${broker.options.nodeName} is ${up ? 'started' : 'starting'}\nvireo is ${up ? 'running' : 'not_running'}\n`);
  app.get('/status', { schema: { summary: 'Liveness: 200 when the node serves MQTT', tags: ['status'] } }, async (_req, reply) => answer(reply, true));
  app.get('/api/v5/status', { schema: { summary: 'Readiness: 200 when the node serves MQTT and has joined its cluster, 503 before', tags: ['status'] } }, async (_req, reply) =>
    answer(reply, ready()),
  );

  app.get(
    '/api/v5/nodes',
    { schema: { summary: 'Every running node of the cluster; one that does not answer is listed as `stopped` with its error', tags: ['nodes'] } },
    async (_req, reply) => {
      const g = await q.gather<NodeInfo>('node.info', null);
      markPartial(reply, g.errors);
      const listed: { node: string; node_status: string }[] = [
        ...g.parts.map((p) => p.value),
        ...g.errors.map((e) => ({ node: e.node, node_status: 'stopped', error: e.message })),
      ];
      // known but not running (EMQX lists them as stopped): `cluster_status` says which, until autoclean
      const seen = new Set(listed.map((n) => n.node));
      for (const a of absent())
        if (!seen.has(a.node)) listed.push({ node: a.node, node_status: 'stopped', cluster_status: a.status, since: a.since } as { node: string; node_status: string });
      return listed.sort((a, b) => (a.node < b.node ? -1 : 1));
    },
  );
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
    {
      schema: {
        summary: 'Counts per node (connections, sessions, topics, subscriptions, retained); `aggregate=true`: summed over the cluster',
        tags: ['metrics'],
        querystring: aggregateQuery,
      },
    },
    perNode('node.stats'),
  );
  app.get<{ Querystring: { aggregate?: boolean } }>(
    '/api/v5/metrics',
    { schema: { summary: 'Message, packet and client counters per node; `aggregate=true`: summed over the cluster', tags: ['metrics'], querystring: aggregateQuery } },
    perNode('node.metrics'),
  );
  app.get(
    '/api/v5/listeners',
    { schema: { summary: "Listeners of every node with connections and disconnects by reason, summed, and each node's in `node_status`", tags: ['listeners'] } },
    async (_req, reply) => {
      const g = await q.gather<ListenerView[]>('node.listeners', null);
      markPartial(reply, g.errors);
      return mergeListeners(q.self, g.parts);
    },
  );
}

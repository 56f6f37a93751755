/**
 * EMQX's rebalancing endpoints: `POST /api/v5/load_rebalance/{node}/start` (that node
 * coordinates: it makes the nodes above the mean give load away and shed connections until
 * within the thresholds) and `POST /api/v5/load_rebalance/{node}/stop`. The work is done by
 * the node's `rebalance.*` admin operations (@vireo/rebalance, wired in by the server), so
 * any node's API can start it on any running node.
 */
import type { FastifyInstance } from 'fastify';
import { waitsInSeconds } from '@vireo/rebalance';
import type { ClusterQuery } from './cluster-query.js';
import { errorSchema } from './errors.js';

/** What the server hands the API: the start fields' schema and EMQX's defaults (@vireo/rebalance). */
export interface RebalanceApi {
  startProps: Record<string, unknown>;
  defaults: Record<string, number>;
}

interface StartAnswer {
  ok: boolean;
  error?: string;
  message?: string;
}

const nodeParam = { type: 'object', required: ['node'], properties: { node: { type: 'string', minLength: 1 } } } as const;

export function rebalanceRoutes(app: FastifyInstance, q: ClusterQuery, api: RebalanceApi): void {
  const running = (node: string) => q.nodes().includes(node);

  app.post<{ Params: { node: string }; Body: Record<string, unknown> & { nodes?: string[] } }>(
    '/api/v5/load_rebalance/:node/start',
    {
      schema: {
        summary: 'Start rebalancing with the node as coordinator: nodes above the mean shed connections (DISCONNECT 0x9C) until within the thresholds',
        tags: ['load_rebalance'],
        params: nodeParam,
        body: { type: 'object', additionalProperties: false, properties: api.startProps },
        response: { 200: { type: 'object', additionalProperties: false }, 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (req, reply) => {
      const { node } = req.params;
      if (!running(node)) return reply.code(404).send({ code: 'NOT_FOUND', message: `node ${node} is not running` });
      const nodes = req.body?.nodes ?? q.nodes();
      const gone = nodes.filter((n) => !running(n));
      if (gone.length > 0) return reply.code(400).send({ code: 'NOT_FOUND', message: `Nodes unavailable: ${gone.join(', ')}` });
      let body: Record<string, unknown>;
      try {
        body = waitsInSeconds(req.body ?? {});
      } catch (err) {
        return reply.code(400).send({ code: 'BAD_REQUEST', message: (err as Error).message });
      }
      const opts = { ...api.defaults, ...body, nodes };
      let r: StartAnswer;
      try {
        r = await q.call<StartAnswer>(node, 'rebalance.start', { opts });
      } catch (err) {
        return reply.code(503).send({ code: 'RPC_ERROR', message: `RPC error on node ${node}: ${String(err instanceof Error ? err.message : err)}` });
      }
      if (!r.ok) return reply.code(400).send({ code: 'BAD_REQUEST', message: `error on node ${node}: ${r.error}: ${r.message}` });
      return {};
    },
  );

  app.post<{ Params: { node: string } }>(
    '/api/v5/load_rebalance/:node/stop',
    {
      schema: {
        summary: 'Stop the rebalancing the node coordinates; its donors take clients again',
        tags: ['load_rebalance'],
        params: nodeParam,
        response: { 200: { type: 'object', additionalProperties: false }, 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (req, reply) => {
      const { node } = req.params;
      if (!running(node)) return reply.code(404).send({ code: 'NOT_FOUND', message: `node ${node} is not running` });
      let stopped: boolean;
      try {
        stopped = await q.call<boolean>(node, 'rebalance.stop', {});
      } catch (err) {
        return reply.code(503).send({ code: 'RPC_ERROR', message: `RPC error on node ${node}: ${String(err instanceof Error ? err.message : err)}` });
      }
      if (!stopped) return reply.code(400).send({ code: 'BAD_REQUEST', message: `error on node ${node}: not_started` });
      return {};
    },
  );
}

/**
 * EMQX's `GET /api/v5/load_rebalance/availability_check`, unauthenticated, for load
 * balancers' health checks: 200 `{}` when this node should get new connections, 503 with
 * EMQX's error body when it should not. Vireo also answers 503 while the node is not ready
 * (not joined its cluster yet), so one check serves both a load balancer and Kubernetes'
 * readiness probe. "Giving load away" is what evacuation and rebalancing will set; until
 * they exist nothing does, and the answer follows readiness.
 */
import type { FastifyInstance } from 'fastify';
import { errorSchema } from './errors.js';

export const AVAILABILITY_PATH = '/api/v5/load_rebalance/availability_check';

export interface Availability {
  /** The node serves MQTT and has joined its cluster (the readiness of /api/v5/status). */
  ready: () => boolean;
  /** The node is evacuating or handing connections to others: no new clients. */
  givingLoadAway?: () => boolean;
}

export function loadRebalanceRoutes(app: FastifyInstance, a: Availability): void {
  app.get(
    AVAILABILITY_PATH,
    {
      schema: {
        summary: 'For load balancers: 200 when this node takes new connections; 503 while it is starting or giving load away (evacuation, rebalancing)',
        tags: ['load_rebalance'],
        security: [],
        response: { 200: { type: 'object', additionalProperties: false }, 503: errorSchema },
      },
    },
    async (_req, reply) => {
      if (a.givingLoadAway?.()) return reply.code(503).send({ code: 'NODE_EVACUATING', message: 'Node Evacuating' });
      if (!a.ready()) return reply.code(503).send({ code: 'SERVICE_UNAVAILABLE', message: 'Node starting: not joined its cluster yet' });
      return {};
    },
  );
}

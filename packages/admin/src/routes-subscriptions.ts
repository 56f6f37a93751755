/** `/subscriptions` and `/topics` (the route table), paged, gathered from every node. */
import type { FastifyInstance } from 'fastify';
import type { SubscriptionView } from '@vireo/broker';
import { pageQuerySchema, type PageQuery } from './paging.js';
import { answerPage, type ClusterQuery } from './cluster-query.js';
import type { SubscriptionFilters, TopicView } from './admin-ops.js';
import { subscriptionFilterProps } from './op-schemas.js';

export function subscriptionRoutes(app: FastifyInstance, q: ClusterQuery): void {
  app.get<{ Querystring: PageQuery & SubscriptionFilters & { node?: string } }>(
    '/api/v5/subscriptions',
    {
      schema: {
        summary: 'Subscriptions on every node, paged and filtered; `meta.errors` names nodes that did not answer',
        tags: ['subscriptions'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQuerySchema,
            node: { type: 'string' },
            // the same filters a peer's `subscriptions.page` is checked against (op-schemas.ts)
            ...subscriptionFilterProps,
          },
        },
      },
    },
    async (req, reply) => {
      const { page, limit, node, ...filters } = req.query;
      return answerPage<SubscriptionView, SubscriptionFilters>(q, reply, 'subscriptions.page', filters, { page, limit, node });
    },
  );

  app.get<{ Querystring: PageQuery & { topic?: string; node?: string } }>(
    '/api/v5/topics',
    {
      schema: {
        summary: 'The route table: each topic filter with a subscriber, and the node that has it (one entry per node)',
        tags: ['subscriptions'],
        querystring: { type: 'object', additionalProperties: false, properties: { ...pageQuerySchema, topic: { type: 'string' }, node: { type: 'string' } } },
      },
    },
    async (req, reply) => {
      const { page, limit, node, topic } = req.query;
      return answerPage<TopicView, { topic?: string }>(q, reply, 'topics.page', { topic }, { page, limit, node });
    },
  );
}

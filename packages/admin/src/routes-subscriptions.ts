/** `/subscriptions` and `/topics` (the route table), paged. */
import type { FastifyInstance } from 'fastify';
import { topicMatches } from '@vireo/mqtt';
import { subscriptionViews, type Broker, type SubscriptionView } from '@vireo/broker';
import { pageQuerySchema, paginate, type PageQuery } from './paging.js';

interface SubsQuery extends PageQuery {
  clientid?: string;
  topic?: string;
  qos?: number;
  share_group?: string;
  match_topic?: string;
}

export function subscriptionRoutes(app: FastifyInstance, broker: Broker): void {
  app.get<{ Querystring: SubsQuery }>(
    '/api/v5/subscriptions',
    {
      schema: {
        summary: 'All subscriptions on this node, paged and filtered',
        tags: ['subscriptions'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQuerySchema,
            clientid: { type: 'string' },
            topic: { type: 'string' },
            qos: { type: 'integer', minimum: 0, maximum: 2 },
            share_group: { type: 'string' },
            match_topic: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      function* all(): IterableIterator<SubscriptionView> {
        for (const s of broker.sessions.values()) yield* subscriptionViews(broker, s);
      }
      const keep = (s: SubscriptionView) =>
        (q.clientid === undefined || s.clientid === q.clientid) &&
        (q.topic === undefined || s.topic === q.topic) &&
        (q.qos === undefined || s.qos === q.qos) &&
        (q.share_group === undefined || s.topic.startsWith(`$share/${q.share_group}/`)) &&
        (q.match_topic === undefined || topicMatches(s.topic, q.match_topic));
      return paginate(all(), q, keep);
    },
  );

  app.get<{ Querystring: PageQuery & { topic?: string } }>(
    '/api/v5/topics',
    {
      schema: {
        summary: 'The route table: each topic filter with a subscriber, and the node that has it',
        tags: ['subscriptions'],
        querystring: { type: 'object', additionalProperties: false, properties: { ...pageQuerySchema, topic: { type: 'string' } } },
      },
    },
    async (req) => {
      const node = broker.options.nodeName;
      function* routes(): IterableIterator<{ topic: string; node: string }> {
        for (const [filter] of broker.router.direct.all()) yield { topic: filter, node };
        for (const [filter, groups] of broker.router.shared.all()) for (const g of groups.keys()) yield { topic: `$share/${g}/${filter}`, node };
      }
      return paginate(routes(), req.query, (r) => req.query.topic === undefined || r.topic === req.query.topic);
    },
  );
}

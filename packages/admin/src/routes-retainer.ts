/**
 * `/mqtt/retainer/…` (EMQX v5): list, read and delete retained messages. Retained messages
 * are replicated to every node, so this node's copy answers reads; a delete runs on every
 * node (an operator's clean, which subscribers do not see, unlike an empty retained
 * PUBLISH), so the message is gone cluster-wide.
 */
import type { FastifyInstance } from 'fastify';
import { topicFilterError, topicMatches } from '@vireo/mqtt';
import type { Broker, Message } from '@vireo/broker';
import { badRequest, errorSchema, notFound } from './errors.js';
import { markPartial, type ClusterQuery } from './cluster-query.js';
import { paginate, pageQuerySchema, type PageQuery } from './paging.js';

/** This node's part of a cluster-wide delete: the `retainer.delete` and `retainer.clean` admin calls. */
export function retainerOps(broker: Broker): Record<string, (a: Record<string, unknown>) => unknown> {
  return {
    'retainer.delete': (a) => {
      if (typeof a.topic !== 'string') throw new Error('topic: a string is required');
      return broker.retainer.delete(a.topic);
    },
    'retainer.clean': () => broker.retainer.deleteAll(),
  };
}

function summary(m: Message): Record<string, unknown> {
  return {
    topic: m.topic,
    msgid: String(m.id),
    qos: m.qos,
    from_clientid: m.from || null,
    publish_at: new Date(m.timestamp).toISOString(),
    payload_size: m.payload.length,
    expires_at: m.expiresAt ? new Date(m.expiresAt).toISOString() : null,
  };
}

const summarySchema = {
  type: 'object',
  properties: {
    topic: { type: 'string' },
    msgid: { type: 'string' },
    qos: { type: 'integer' },
    from_clientid: { type: ['string', 'null'] },
    publish_at: { type: 'string' },
    payload_size: { type: 'integer' },
    expires_at: { type: ['string', 'null'] },
  },
} as const;
const topicParam = { type: 'object', properties: { topic: { type: 'string', description: 'the topic, URL-encoded (a/b → a%2Fb)' } }, required: ['topic'] } as const;

export function retainerRoutes(app: FastifyInstance, broker: Broker, q: ClusterQuery): void {
  app.get<{ Querystring: PageQuery & { topic?: string } }>(
    '/api/v5/mqtt/retainer/messages',
    {
      schema: {
        summary: 'Retained messages (the same on every node), paged; `topic` filters with a topic filter',
        tags: ['retainer'],
        querystring: { type: 'object', properties: { ...pageQuerySchema, topic: { type: 'string' } } },
        response: {
          200: { type: 'object', properties: { data: { type: 'array', items: summarySchema }, meta: { type: 'object', additionalProperties: true } } },
          400: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const filter = req.query.topic;
      if (filter !== undefined && topicFilterError(filter)) return badRequest(reply, 'BAD_REQUEST', `topic: ${topicFilterError(filter)}`);
      const now = Date.now();
      const live = [...broker.retainer.messages()].filter((m) => !m.topic.startsWith('$SYS') && (m.expiresAt === 0 || m.expiresAt > now));
      live.sort((a, b) => a.topic.localeCompare(b.topic));
      const page = paginate(live, req.query, (m) => filter === undefined || topicMatches(filter, m.topic));
      return { data: page.data.map(summary), meta: page.meta };
    },
  );

  app.get<{ Params: { topic: string } }>(
    '/api/v5/mqtt/retainer/message/:topic',
    {
      schema: {
        summary: 'One retained message, with its payload (base64)',
        tags: ['retainer'],
        params: topicParam,
        response: { 200: { type: 'object', properties: { ...summarySchema.properties, payload: { type: 'string' } } }, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const m = broker.retainer.get(req.params.topic);
      if (!m || (m.expiresAt !== 0 && m.expiresAt <= Date.now())) return notFound(reply, 'NOT_FOUND', `no retained message on ${req.params.topic}`);
      return { ...summary(m), payload: m.payload.toString('base64') };
    },
  );

  app.delete<{ Params: { topic: string } }>(
    '/api/v5/mqtt/retainer/message/:topic',
    { schema: { summary: 'Delete one retained message on every node (subscribers are not told)', tags: ['retainer'], params: topicParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      const g = await q.gather<boolean>('retainer.delete', { topic: req.params.topic });
      markPartial(reply, g.errors);
      if (!g.parts.some((p) => p.value)) return notFound(reply, 'NOT_FOUND', `no retained message on ${req.params.topic}`);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/api/v5/mqtt/retainer/messages',
    {
      schema: {
        summary: 'Delete every retained message on every node',
        tags: ['retainer'],
        response: { 200: { type: 'object', properties: { deleted: { type: 'integer', description: 'on the node that answered most' } } } },
      },
    },
    async (_req, reply) => {
      const g = await q.gather<number>('retainer.clean', {});
      markPartial(reply, g.errors);
      // every node held the same set; the largest count is the cluster's
      return { deleted: Math.max(0, ...g.parts.map((p) => p.value)) };
    },
  );
}

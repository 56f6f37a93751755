/**
 * `/clients`: list, look up, kick, and manage a client's subscriptions — cluster-wide: the
 * list gathers from every node, the others reach whichever node holds the client.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseSharedFilter, topicFilterError } from '@vireo/mqtt';
import type { ClientView, SubscriptionView } from '@vireo/broker';
import { pageQuerySchema, type PageQuery } from './paging.js';
import { notFound, badRequest, errorSchema } from './errors.js';
import { answerPage, markPartial, type ClusterQuery, type NodeError } from './cluster-query.js';
import type { ClientFilters, SubscribeArgs } from './admin-ops.js';
import { clientFilterProps, subscribeProps } from './op-schemas.js';

interface ListQuery extends PageQuery, ClientFilters {
  node?: string;
}

const clientIdParam = { type: 'object', required: ['clientid'], properties: { clientid: { type: 'string', minLength: 1 } } } as const;

const subscribeBody = { type: 'object', required: ['topic'], additionalProperties: false, properties: subscribeProps } as const;

/** 404 for a client no node has; nodes that did not answer are named (it may be there). */
function clientNotFound(reply: FastifyReply, errors: NodeError[]): FastifyReply {
  markPartial(reply, errors);
  const missing = errors.length > 0 ? ` (no answer from ${errors.map((e) => e.node).join(', ')})` : '';
  return notFound(reply, 'CLIENTID_NOT_FOUND', `Client ID not found${missing}`);
}

export function clientRoutes(app: FastifyInstance, q: ClusterQuery): void {
  app.get<{ Querystring: ListQuery }>(
    '/api/v5/clients',
    {
      schema: {
        summary: 'List clients of every node (connected, and disconnected sessions not yet expired), paged and filtered; `meta.errors` names nodes that did not answer',
        tags: ['clients'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQuerySchema,
            node: { type: 'string' },
            // the same filters a peer's `clients.page` is checked against (op-schemas.ts)
            ...clientFilterProps,
          },
        },
      },
    },
    async (req, reply) => {
      const { page, limit, node, ...filters } = req.query;
      return answerPage<ClientView, ClientFilters>(q, reply, 'clients.page', filters, { page, limit, node });
    },
  );

  app.get<{ Params: { clientid: string } }>(
    '/api/v5/clients/:clientid',
    { schema: { summary: 'One client', tags: ['clients'], params: clientIdParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      const r = await q.find<ClientView>('client.get', { clientid: req.params.clientid });
      return r.node !== undefined ? r.value : clientNotFound(reply, r.errors);
    },
  );

  app.delete<{ Params: { clientid: string } }>(
    '/api/v5/clients/:clientid',
    {
      schema: {
        summary: 'Kick a client on whichever node holds it: DISCONNECT 0x98 (v5), its session ends, logged as `kicked` there',
        tags: ['clients'],
        params: clientIdParam,
        response: { 404: errorSchema },
      },
    },
    async (req, reply) => {
      const r = await q.find<true>('client.kick', { clientid: req.params.clientid });
      if (r.node === undefined) return clientNotFound(reply, r.errors);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { clientid: string } }>(
    '/api/v5/clients/:clientid/subscriptions',
    { schema: { summary: "A client's subscriptions", tags: ['clients'], params: clientIdParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      const r = await q.find<SubscriptionView[]>('client.subscriptions', { clientid: req.params.clientid });
      return r.node !== undefined ? r.value : clientNotFound(reply, r.errors);
    },
  );

  app.post<{ Params: { clientid: string }; Body: { topic: string; qos: 0 | 1 | 2; nl: number; rap: number; rh: 0 | 1 | 2 } }>(
    '/api/v5/clients/:clientid/subscribe',
    {
      schema: { summary: 'Subscribe a client to a topic filter', tags: ['clients'], params: clientIdParam, body: subscribeBody, response: { 400: errorSchema, 404: errorSchema } },
    },
    async (req, reply) => {
      const { topic, qos, nl, rap, rh } = req.body;
      const shared = parseSharedFilter(topic);
      if (typeof shared === 'string') return badRequest(reply, 'INVALID_PARAMETER', `topic: ${shared}`);
      const filterError = topicFilterError(shared ? shared.filter : topic);
      if (filterError) return badRequest(reply, 'INVALID_PARAMETER', `topic: ${filterError}`);
      const args: SubscribeArgs = { clientid: req.params.clientid, topic, share: shared ? shared.group : undefined, qos, nl, rap, rh };
      const r = await q.find<Record<string, unknown>>('client.subscribe', args);
      return r.node !== undefined ? r.value : clientNotFound(reply, r.errors);
    },
  );

  app.post<{ Params: { clientid: string }; Body: { topic: string } }>(
    '/api/v5/clients/:clientid/unsubscribe',
    {
      schema: {
        summary: 'Unsubscribe a client from a topic filter',
        tags: ['clients'],
        params: clientIdParam,
        body: { type: 'object', required: ['topic'], additionalProperties: false, properties: { topic: { type: 'string', minLength: 1 } } },
        response: { 404: errorSchema },
      },
    },
    async (req, reply) => {
      const r = await q.find<'unsubscribed' | 'no_subscription'>('client.unsubscribe', { clientid: req.params.clientid, topic: req.body.topic });
      if (r.node === undefined) return clientNotFound(reply, r.errors);
      if (r.value === 'no_subscription') return notFound(reply, 'NOT_FOUND', 'No such subscription');
      return reply.code(204).send();
    },
  );
}

/** `/clients`: list, look up, kick, and manage a client's subscriptions. */
import type { FastifyInstance } from 'fastify';
import { RC, parseSharedFilter, topicFilterError } from '@vireo/mqtt';
import { clientView, clientViews, subscriptionViews, type Broker, type ClientInfo, type ClientView, type Session, type SubOptions } from '@vireo/broker';
import { pageQuerySchema, paginate, type PageQuery } from './paging.js';
import { notFound, badRequest, errorSchema } from './errors.js';

interface ListQuery extends PageQuery {
  node?: string;
  clientid?: string;
  username?: string;
  ip_address?: string;
  conn_state?: 'connected' | 'disconnected';
  like_clientid?: string;
  like_username?: string;
}

const clientIdParam = { type: 'object', required: ['clientid'], properties: { clientid: { type: 'string', minLength: 1 } } } as const;

const subscribeBody = {
  type: 'object',
  required: ['topic'],
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1 },
    qos: { type: 'integer', minimum: 0, maximum: 2, default: 0 },
    nl: { type: 'integer', minimum: 0, maximum: 1, default: 0 },
    rap: { type: 'integer', minimum: 0, maximum: 1, default: 0 },
    rh: { type: 'integer', minimum: 0, maximum: 2, default: 0 },
  },
} as const;

/** The connected client's info, or a stand-in for an offline session (the API acts for it). */
function clientInfoOf(broker: Broker, session: Session): ClientInfo {
  return broker.channels.get(session.clientId)?.info ?? { clientId: session.clientId, username: undefined, peer: '', protocolVersion: 5, listener: '' };
}

export function clientRoutes(app: FastifyInstance, broker: Broker): void {
  app.get<{ Querystring: ListQuery }>(
    '/api/v5/clients',
    {
      schema: {
        summary: 'List clients (connected, and disconnected sessions not yet expired), paged and filtered',
        tags: ['clients'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQuerySchema,
            node: { type: 'string' },
            clientid: { type: 'string' },
            username: { type: 'string' },
            ip_address: { type: 'string' },
            conn_state: { type: 'string', enum: ['connected', 'disconnected'] },
            like_clientid: { type: 'string' },
            like_username: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      const keep = (c: ClientView) =>
        (q.node === undefined || c.node === q.node) &&
        (q.clientid === undefined || c.clientid === q.clientid) &&
        (q.username === undefined || c.username === q.username) &&
        (q.ip_address === undefined || c.ip_address === q.ip_address) &&
        (q.conn_state === undefined || c.connected === (q.conn_state === 'connected')) &&
        (q.like_clientid === undefined || c.clientid.includes(q.like_clientid)) &&
        (q.like_username === undefined || (c.username ?? '').includes(q.like_username));
      return paginate(clientViews(broker), q, keep);
    },
  );

  app.get<{ Params: { clientid: string } }>(
    '/api/v5/clients/:clientid',
    { schema: { summary: 'One client', tags: ['clients'], params: clientIdParam, response: { 404: errorSchema } } },
    async (req, reply) => clientView(broker, req.params.clientid) ?? notFound(reply, 'CLIENTID_NOT_FOUND', 'Client ID not found'),
  );

  app.delete<{ Params: { clientid: string } }>(
    '/api/v5/clients/:clientid',
    {
      schema: {
        summary: 'Kick a client: DISCONNECT 0x98 (v5), its session ends, logged as `kicked`',
        tags: ['clients'],
        params: clientIdParam,
        response: { 404: errorSchema },
      },
    },
    async (req, reply) => {
      if (!broker.kick(req.params.clientid)) return notFound(reply, 'CLIENTID_NOT_FOUND', 'Client ID not found');
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { clientid: string } }>(
    '/api/v5/clients/:clientid/subscriptions',
    { schema: { summary: "A client's subscriptions", tags: ['clients'], params: clientIdParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      const session = broker.sessions.get(req.params.clientid);
      return session ? subscriptionViews(broker, session) : notFound(reply, 'CLIENTID_NOT_FOUND', 'Client ID not found');
    },
  );

  app.post<{ Params: { clientid: string }; Body: { topic: string; qos: 0 | 1 | 2; nl: number; rap: number; rh: 0 | 1 | 2 } }>(
    '/api/v5/clients/:clientid/subscribe',
    { schema: { summary: 'Subscribe a client to a topic filter', tags: ['clients'], params: clientIdParam, body: subscribeBody, response: { 400: errorSchema, 404: errorSchema } } },
    async (req, reply) => {
      const session = broker.sessions.get(req.params.clientid);
      if (!session) return notFound(reply, 'CLIENTID_NOT_FOUND', 'Client ID not found');
      const { topic, qos, nl, rap, rh } = req.body;
      const shared = parseSharedFilter(topic);
      if (typeof shared === 'string') return badRequest(reply, 'INVALID_PARAMETER', `topic: ${shared}`);
      const filterError = topicFilterError(shared ? shared.filter : topic);
      if (filterError) return badRequest(reply, 'INVALID_PARAMETER', `topic: ${filterError}`);
      const opts: SubOptions = { qos, nl: nl === 1, rap: rap === 1, rh, subId: 0 };
      if (shared) opts.share = shared.group;
      const info = clientInfoOf(broker, session);
      const isNew = broker.subscribe(session, info, topic, opts);
      broker.sendRetained(session, topic, opts, isNew);
      return { clientid: session.clientId, topic, qos, nl, rap, rh, reason_code: qos === 0 ? RC.SUCCESS : qos };
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
      const session = broker.sessions.get(req.params.clientid);
      if (!session) return notFound(reply, 'CLIENTID_NOT_FOUND', 'Client ID not found');
      const info = clientInfoOf(broker, session);
      if (!broker.unsubscribe(session, info, req.body.topic)) return notFound(reply, 'NOT_FOUND', 'No such subscription');
      return reply.code(204).send();
    },
  );
}

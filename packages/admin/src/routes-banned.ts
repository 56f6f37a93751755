/**
 * `/banned`: EMQX's ban list (client id, username or peer host); adding a ban kicks who it
 * covers. Every change is copied to the other nodes (record-sync.ts), so bans hold, and
 * list, the same on every node.
 */
import type { FastifyInstance } from 'fastify';
import { BAN_KINDS, BanError, normalizeBanWho, type AccessControl, type Ban, type BanKind } from '@vireo/access';
import type { Broker } from '@vireo/broker';
import { badRequest, errorSchema, notFound } from './errors.js';
import { paginate, pageQuerySchema, type PageQuery } from './paging.js';
import type { ClusterQuery } from './cluster-query.js';
import { copyEntry } from './record-sync.js';
import { banId, bansTable } from './synced-tables.js';

interface BanBody {
  as: BanKind;
  who: string;
  by?: string;
  reason?: string;
  at?: string;
  until?: string;
}

export function bannedRoutes(app: FastifyInstance, access: AccessControl, q: ClusterQuery, broker: Broker): void {
  const table = bansTable(access);
  const copy = (id: string) => copyEntry(broker, q, table, id);
  // bans the node makes itself (flapping_detect) hold on every node too
  access.onAutoBan((ban) => void copy(banId(ban)));
  app.get<{ Querystring: PageQuery }>(
    '/api/v5/banned',
    { schema: { summary: 'Bans in force (the same on every node)', tags: ['banned'], querystring: { type: 'object', properties: pageQuerySchema } } },
    async (req) => {
      const page = paginate(access.banned.list(), req.query);
      return { ...page, data: page.data.map(view) };
    },
  );

  app.post<{ Body: BanBody }>(
    '/api/v5/banned',
    {
      schema: {
        summary: 'Ban a client id, username or peer host (connected clients it covers are kicked)',
        tags: ['banned'],
        body: {
          type: 'object',
          required: ['as', 'who'],
          additionalProperties: false,
          properties: {
            as: { type: 'string', enum: [...BAN_KINDS] },
            who: { type: 'string', minLength: 1, maxLength: 1024 },
            by: { type: 'string', maxLength: 1024 },
            reason: { type: 'string', maxLength: 1024 },
            at: { type: 'string', format: 'date-time' },
            until: { type: 'string', description: 'RFC 3339 time, or "infinity" (the default)' },
          },
        },
        response: { 400: errorSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const now = Date.now();
      const at = b.at ? Date.parse(b.at) : now;
      const until = b.until === undefined || b.until === 'infinity' ? Infinity : Date.parse(b.until);
      if (Number.isNaN(until)) return badRequest(reply, 'BAD_REQUEST', 'until: an RFC 3339 time or "infinity"');
      if (until <= now) return badRequest(reply, 'BAD_REQUEST', 'until is in the past');
      let who: string;
      try {
        who = normalizeBanWho(b.as, b.who);
      } catch (err) {
        if (err instanceof BanError) return badRequest(reply, 'BAD_REQUEST', err.message);
        throw err;
      }
      if (access.banned.get(b.as, who)) return badRequest(reply, 'ALREADY_EXISTS', `${b.as} ${who} is already banned`);
      const ban: Ban = { as: b.as, who, by: b.by ?? 'mgmt_api', reason: b.reason ?? '', at, until };
      access.ban(ban);
      await copy(banId(ban));
      return view(ban);
    },
  );

  app.delete<{ Params: { as: BanKind; who: string } }>(
    '/api/v5/banned/:as/:who',
    {
      schema: {
        summary: 'Lift a ban on every node',
        tags: ['banned'],
        params: { type: 'object', required: ['as', 'who'], properties: { as: { type: 'string', enum: [...BAN_KINDS] }, who: { type: 'string', minLength: 1 } } },
        response: { 404: errorSchema },
      },
    },
    async (req, reply) => {
      let who: string;
      try {
        who = normalizeBanWho(req.params.as, req.params.who);
      } catch {
        return notFound(reply, 'NOT_FOUND', 'Ban not found');
      }
      if (!access.banned.delete(req.params.as, who)) return notFound(reply, 'NOT_FOUND', 'Ban not found');
      await copy(banId({ as: req.params.as, who }));
      return reply.code(204).send();
    },
  );

  app.delete('/api/v5/banned', { schema: { summary: 'Lift every ban on every node', tags: ['banned'] } }, async (_req, reply) => {
    for (const b of access.banned.list()) {
      access.banned.delete(b.as, b.who);
      await copy(banId(b));
    }
    return reply.code(204).send();
  });
}

function view(b: Ban) {
  return { as: b.as, who: b.who, by: b.by, reason: b.reason, at: new Date(b.at).toISOString(), until: b.until === Infinity ? 'infinity' : new Date(b.until).toISOString() };
}

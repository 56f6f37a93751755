/**
 * `/banned`: EMQX's ban list (client id, username or peer host); adding a ban kicks who it
 * covers. Changes are written through to every node (banned-sync.ts), so any node lists them.
 */
import type { FastifyInstance } from 'fastify';
import { BAN_KINDS, type AccessControl, type Ban, type BanKind } from '@vireo/broker';
import { badRequest, errorSchema, notFound } from './errors.js';
import { paginate, pageQuerySchema, type PageQuery } from './paging.js';
import { markPartial, type ClusterQuery } from './cluster-query.js';
import { toWire } from './banned-sync.js';

interface BanBody {
  as: BanKind;
  who: string;
  by?: string;
  reason?: string;
  at?: string;
  until?: string;
}

export function bannedRoutes(app: FastifyInstance, access: AccessControl, q: ClusterQuery): void {
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
      if (access.banned.get(b.as, b.who)) return badRequest(reply, 'ALREADY_EXISTS', `${b.as} ${b.who} is already banned`);
      const ban: Ban = { as: b.as, who: b.who, by: b.by ?? 'mgmt_api', reason: b.reason ?? '', at, until };
      const g = await q.gather<number>('banned.add', { ban: toWire(ban) });
      markPartial(reply, g.errors);
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
      const g = await q.gather<boolean>('banned.delete', { as: req.params.as, who: req.params.who });
      markPartial(reply, g.errors);
      return g.parts.some((p) => p.value) ? reply.code(204).send() : notFound(reply, 'NOT_FOUND', 'Ban not found');
    },
  );

  app.delete('/api/v5/banned', { schema: { summary: 'Lift every ban on every node', tags: ['banned'] } }, async (_req, reply) => {
    markPartial(reply, (await q.gather<number>('banned.clear', {})).errors);
    return reply.code(204).send();
  });
}

function view(b: Ban) {
  return { as: b.as, who: b.who, by: b.by, reason: b.reason, at: new Date(b.at).toISOString(), until: b.until === Infinity ? 'infinity' : new Date(b.until).toISOString() };
}

/**
 * Built-in database users, at EMQX's paths:
 * `/authentication/password_based:built_in_database/users[/{user_id}]`. Every change is
 * copied to the other nodes (record-sync.ts), so any node lists and checks the same users.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UserExistsError, type AccessControl } from '@vireo/access';
import type { Broker } from '@vireo/broker';
import { badRequest, errorSchema, notFound } from './errors.js';
import { paginate, pageQuerySchema, type PageQuery } from './paging.js';
import type { ClusterQuery } from './cluster-query.js';
import { copyEntry } from './record-sync.js';
import { usersTable } from './synced-tables.js';

// a parameter rather than a literal, so that the colon may also come URL-encoded (%3A)
const USERS = '/api/v5/authentication/:authenticator/users';
const AUTHENTICATOR = 'password_based:built_in_database';
const authenticatorParam = { authenticator: { type: 'string' } } as const;
const listParam = { type: 'object', required: ['authenticator'], properties: authenticatorParam } as const;
const userParam = { type: 'object', required: ['authenticator', 'user_id'], properties: { ...authenticatorParam, user_id: { type: 'string', minLength: 1 } } } as const;
const password = { type: 'string', minLength: 1, maxLength: 1024 } as const;

interface ImportEntry {
  user_id: string;
  password?: string;
  password_hash?: string;
  salt?: string;
  is_superuser?: boolean;
}

/** EMQX's path names the authenticator; only the built-in database has users here. */
async function builtinOnly(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const id = (req.params as { authenticator: string }).authenticator;
  if (id !== AUTHENTICATOR) await notFound(reply, 'NOT_FOUND', `no authenticator ${id} (Vireo has ${AUTHENTICATOR})`);
}

export function userRoutes(app: FastifyInstance, access: AccessControl, q: ClusterQuery, broker: Broker): void {
  const table = usersTable(access);
  const copy = (id: string) => copyEntry(broker, q, table, id);
  // EMQX's list of authenticators, in the order they are tried
  app.get(
    '/api/v5/authentication',
    { schema: { summary: 'Authenticators in the order they are tried, with enable', tags: ['authentication'] } },
    async () => access.authenticatorViews,
  );

  app.get<{ Querystring: PageQuery & { like_user_id?: string; is_superuser?: boolean } }>(
    USERS,
    {
      preHandler: builtinOnly,
      schema: {
        summary: 'Users of the built-in database (the same on every node)',
        tags: ['authentication'],
        params: listParam,
        querystring: { type: 'object', properties: { ...pageQuerySchema, like_user_id: { type: 'string' }, is_superuser: { type: 'boolean' } } },
      },
    },
    async (req) => {
      const { like_user_id: like, is_superuser: su } = req.query;
      return paginate(access.users.list(), req.query, (u) => (like === undefined || u.user_id.includes(like)) && (su === undefined || u.is_superuser === su));
    },
  );

  app.post<{ Body: { user_id: string; password: string; is_superuser: boolean } }>(
    USERS,
    {
      preHandler: builtinOnly,
      schema: {
        summary: 'Add a user',
        tags: ['authentication'],
        params: listParam,
        body: {
          type: 'object',
          required: ['user_id', 'password'],
          additionalProperties: false,
          properties: { user_id: { type: 'string', minLength: 1, maxLength: 1024 }, password, is_superuser: { type: 'boolean', default: false } },
        },
        response: { 400: errorSchema, 409: errorSchema },
      },
    },
    async (req, reply) => {
      try {
        const u = await access.users.add(req.body.user_id, req.body.password, req.body.is_superuser);
        await copy(u.user_id);
        return reply.code(201).send(u);
      } catch (err) {
        if (err instanceof UserExistsError) return reply.code(409).send({ code: 'ALREADY_EXISTS', message: err.message });
        throw err;
      }
    },
  );

  app.post<{ Body: ImportEntry[] }>(
    `${USERS.slice(0, -'/users'.length)}/import_users`,
    {
      preHandler: builtinOnly,
      schema: {
        summary: 'Import users (EMQX: plain passwords, or password_hash + salt made with the configured algorithm); replaces users that exist',
        tags: ['authentication'],
        params: listParam,
        body: {
          type: 'array',
          maxItems: 100_000,
          items: {
            type: 'object',
            required: ['user_id'],
            additionalProperties: false,
            properties: {
              user_id: { type: 'string', minLength: 1, maxLength: 1024 },
              password,
              password_hash: { type: 'string', maxLength: 1024 },
              salt: { type: 'string', maxLength: 1024 },
              is_superuser: { type: 'boolean' },
            },
          },
        },
        response: { 400: errorSchema },
      },
    },
    async (req) => {
      const r = { total: req.body.length, success: 0, override: 0, skipped: 0, failed: 0 };
      for (const u of req.body) {
        try {
          if ((await access.users.import(u)) === 'override') r.override++;
          r.success++;
          await copy(u.user_id);
        } catch {
          // neither a password nor a hex hash: counted, as EMQX does
          r.failed++;
        }
      }
      return r;
    },
  );

  app.get<{ Params: { user_id: string } }>(
    `${USERS}/:user_id`,
    { preHandler: builtinOnly, schema: { summary: 'One user', tags: ['authentication'], params: userParam, response: { 404: errorSchema } } },
    async (req, reply) => access.users.get(req.params.user_id) ?? notFound(reply, 'NOT_FOUND', 'User not found'),
  );

  app.put<{ Params: { user_id: string }; Body: { password?: string; is_superuser?: boolean } }>(
    `${USERS}/:user_id`,
    {
      preHandler: builtinOnly,
      schema: {
        summary: "Change a user's password or superuser flag",
        tags: ['authentication'],
        params: userParam,
        body: { type: 'object', additionalProperties: false, properties: { password, is_superuser: { type: 'boolean' } } },
        response: { 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      if (req.body.password === undefined && req.body.is_superuser === undefined) return badRequest(reply, 'BAD_REQUEST', 'give password and/or is_superuser');
      const u = await access.users.update(req.params.user_id, req.body);
      if (!u) return notFound(reply, 'NOT_FOUND', 'User not found');
      await copy(u.user_id);
      return u;
    },
  );

  app.delete<{ Params: { user_id: string } }>(
    `${USERS}/:user_id`,
    { preHandler: builtinOnly, schema: { summary: 'Delete a user', tags: ['authentication'], params: userParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      if (!access.users.delete(req.params.user_id)) return notFound(reply, 'NOT_FOUND', 'User not found');
      await copy(req.params.user_id);
      return reply.code(204).send();
    },
  );
}

/**
 * `/api_key`: API keys created through the API (EMQX's shape), kept in the node's store and
 * copied to every other node (record-sync.ts), so a key made on one node opens every node's API.
 */
import type { FastifyInstance } from 'fastify';
import type { Broker } from '@vireo/broker';
import type { ClusterQuery } from './cluster-query.js';
import { copyEntry } from './record-sync.js';
import { apiKeysTable } from './synced-tables.js';
import type { ApiKeys, ApiKeyRecord } from './api-keys.js';
import { badRequest, errorSchema, notFound } from './errors.js';
import { API_KEY_ROLES, type Role } from './roles.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } } as const;
const fields = {
  desc: { type: 'string', maxLength: 1024 },
  enable: { type: 'boolean' },
  expired_at: {
    anyOf: [
      { type: 'string', format: 'date-time' },
      { type: 'string', enum: ['infinity'] },
    ],
  },
  role: { type: 'string', enum: API_KEY_ROLES as Role[], description: 'administrator (default), viewer (reads only) or publisher (POST /publish only), as EMQX' },
} as const;

export function apiKeyRoutes(app: FastifyInstance, keys: ApiKeys, q: ClusterQuery, broker: Broker): void {
  const table = apiKeysTable(keys);
  const copy = (name: string) => copyEntry(broker, q, table, name);
  app.get('/api/v5/api_key', { schema: { summary: 'API keys created through the API (not those of api_key.bootstrap_file)', tags: ['api_key'] } }, async () =>
    keys.list().map(view),
  );

  app.post<{ Body: { name: string; desc?: string; enable?: boolean; expired_at?: string; role?: Role } }>(
    '/api/v5/api_key',
    {
      schema: {
        summary: 'Create an API key; the answer carries its secret, shown this once',
        tags: ['api_key'],
        body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' }, ...fields } },
        response: { 400: errorSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const expired = expiry(b.expired_at);
      if (expired !== null && expired <= Date.now()) return badRequest(reply, 'BAD_REQUEST', 'expired_at is in the past');
      if (keys.get(b.name)) return badRequest(reply, 'ALREADY_EXISTS', `api key ${b.name} already exists`);
      const rec = keys.create(b.name, b.desc ?? '', b.enable ?? true, expired, b.role ?? 'administrator');
      await copy(rec.name);
      return { ...view(rec), api_secret: rec.api_secret };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/api/v5/api_key/:name',
    { schema: { summary: 'One API key', tags: ['api_key'], params: nameParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      const rec = keys.get(req.params.name);
      return rec ? view(rec) : notFound(reply, 'NOT_FOUND', 'API key not found');
    },
  );

  app.put<{ Params: { name: string }; Body: { desc?: string; enable?: boolean; expired_at?: string; role?: Role } }>(
    '/api/v5/api_key/:name',
    {
      schema: {
        summary: 'Change an API key (enable, desc, expired_at, role)',
        tags: ['api_key'],
        params: nameParam,
        body: { type: 'object', additionalProperties: false, properties: fields },
        response: { 404: errorSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const rec = keys.update(req.params.name, { desc: b.desc, enable: b.enable, role: b.role, ...(b.expired_at !== undefined ? { expired_at: expiry(b.expired_at) } : {}) });
      if (!rec) return notFound(reply, 'NOT_FOUND', 'API key not found');
      await copy(rec.name);
      return view(rec);
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/api/v5/api_key/:name',
    { schema: { summary: 'Delete an API key', tags: ['api_key'], params: nameParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      if (!keys.delete(req.params.name)) return notFound(reply, 'NOT_FOUND', 'API key not found');
      await copy(req.params.name);
      return reply.code(204).send();
    },
  );
}

function expiry(v: string | undefined): number | null {
  return v === undefined || v === 'infinity' ? null : Date.parse(v);
}

function view(r: ApiKeyRecord) {
  return {
    name: r.name,
    api_key: r.api_key,
    desc: r.desc,
    enable: r.enable,
    created_at: new Date(r.created_at).toISOString(),
    expired_at: r.expired_at === null ? 'infinity' : new Date(r.expired_at).toISOString(),
    role: r.role ?? 'administrator',
  };
}

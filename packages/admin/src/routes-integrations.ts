/**
 * `POST /connectors`, `PUT/DELETE /connectors/{id}` and the same for `/actions` (EMQX 5's
 * data integration API, write side): made on one node, built there, then copied to every
 * node through the synced table `integrations` (record-sync.ts), as rules made through the
 * API are. Those of the configuration are read-only (409). The read side, with status and
 * counters per node, is routes-connectors.ts.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { IntegrationError, INTEGRATION_TYPES, type ActionSpec, type ConnectorSpec, type Integrations } from '@vireo/rules';
import type { Broker } from '@vireo/broker';
import { errorSchema } from './errors.js';
import type { ClusterQuery } from './cluster-query.js';
import { copyEntry, type SyncedTable } from './record-sync.js';

type Spec = ConnectorSpec | ActionSpec;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The table every node keeps the same: `connector:<type>:<name>` / `action:<type>:<name>` → what the API took. */
export function integrationsTable(it: Integrations): SyncedTable<Spec> {
  return {
    name: 'integrations',
    entries: () => it.entries(),
    get: (id) => it.get(id),
    put: (id, spec) => (id.startsWith('connector:') ? it.putConnector(spec as ConnectorSpec) : it.putAction(spec as ActionSpec)),
    delete: (id) => (id.startsWith('connector:') ? it.deleteConnector(id.slice('connector:'.length)) : it.deleteAction(id.slice('action:'.length))),
    valid: (v): v is Spec => isObject(v) && typeof v.type === 'string' && (INTEGRATION_TYPES as readonly string[]).includes(v.type) && typeof v.name === 'string',
  };
}

const NAME = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' } as const;
const duration = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^\\d+(ms|s|m|h)?$' },
  ],
} as const;
const headers = { type: 'array', items: { type: 'string' }, description: 'each `Name: value`' } as const;
const connectorFields = {
  enable: { type: 'boolean' },
  url: { type: 'string', description: 'http: the server, http(s)://…' },
  headers,
  server: { type: 'string', description: 'pgsql: host:port' },
  database: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  pool_size: { type: 'integer', minimum: 1, maximum: 1024 },
  connect_timeout: duration,
  parameters: {
    type: 'object',
    additionalProperties: false,
    required: ['server'],
    description: 'redis: {redis_type: single, server, database, username, password}',
    properties: {
      redis_type: { type: 'string', enum: ['single'] },
      server: { type: 'string' },
      database: { type: 'integer', minimum: 0 },
      username: { type: 'string' },
      password: { type: 'string' },
    },
  },
} as const;
const actionFields = {
  enable: { type: 'boolean' },
  connector: NAME,
  parameters: {
    type: 'object',
    additionalProperties: false,
    description: 'pgsql: {sql}; redis: {command_template}; http: {method, path, body, headers}',
    properties: {
      sql: { type: 'string' },
      command_template: { type: 'array', items: { type: 'string' } },
      method: { type: 'string', enum: ['post', 'put', 'get', 'delete'] },
      path: { type: 'string' },
      body: { type: 'string' },
      headers,
    },
  },
  resource_opts: {
    type: 'object',
    additionalProperties: false,
    properties: {
      batch_size: { type: 'integer', minimum: 1, maximum: 10_000 },
      batch_time: duration,
      max_buffer_bytes: { type: 'integer', minimum: 1024 },
      request_ttl: duration,
      health_check_interval: duration,
    },
  },
} as const;
const typeAndName = { type: { type: 'string', enum: INTEGRATION_TYPES }, name: NAME } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^(pgsql|redis|http):[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' } } } as const;

/** What the API answers for one: the id, and the spec with its password masked. */
const view = (s: Spec) => {
  const v: Record<string, unknown> = { id: `${s.type}:${s.name}`, ...s };
  if ('password' in s && s.password !== undefined) v.password = '******';
  if ('parameters' in s && isObject(s.parameters) && 'password' in s.parameters && s.parameters.password !== undefined) v.parameters = { ...s.parameters, password: '******' };
  return v;
};

export function integrationRoutes(app: FastifyInstance, broker: Broker, q: ClusterQuery, it: Integrations, table: SyncedTable<Spec>): void {
  const fail = (reply: FastifyReply, err: unknown) => {
    if (err instanceof IntegrationError)
      return reply.code(err.status).send({ code: err.status === 409 ? 'CONFLICT' : err.status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message: err.message });
    throw err;
  };
  const changed = (k: string) => copyEntry(broker, q, table, k);

  for (const kind of ['connector', 'action'] as const) {
    const path = `/api/v5/${kind}s`;
    const fields = kind === 'connector' ? connectorFields : actionFields;
    const required = kind === 'connector' ? ['type', 'name'] : ['type', 'name', 'connector', 'parameters'];
    const put = (spec: Spec) => (kind === 'connector' ? it.putConnector(spec as ConnectorSpec) : it.putAction(spec as ActionSpec));

    app.post<{ Body: Spec }>(
      path,
      {
        schema: {
          summary: `Create a ${kind} (on every node)`,
          tags: ['rules'],
          body: { type: 'object', additionalProperties: false, required, properties: { ...typeAndName, ...fields } },
          response: { 400: errorSchema, 409: errorSchema },
        },
      },
      async (req, reply) => {
        const id = `${req.body.type}:${req.body.name}`;
        if (it.isApiMade(kind, id)) return reply.code(400).send({ code: 'ALREADY_EXISTS', message: `${kind} ${id} already exists` });
        try {
          put(req.body);
        } catch (err) {
          return fail(reply, err);
        }
        await changed(`${kind}:${id}`);
        return reply.code(201).send(view(req.body));
      },
    );

    app.put<{ Params: { id: string }; Body: Omit<Spec, 'type' | 'name'> }>(
      `${path}/:id`,
      {
        schema: {
          summary: `Change a ${kind} made through the API (the whole of it; on every node): what uses it is rebuilt on the new one`,
          tags: ['rules'],
          params: idParams,
          body: { type: 'object', additionalProperties: false, required: required.slice(2), properties: fields },
          response: { 400: errorSchema, 404: errorSchema, 409: errorSchema },
        },
      },
      async (req, reply) => {
        const [type, name] = req.params.id.split(':') as [ConnectorSpec['type'], string];
        const k = `${kind}:${req.params.id}`;
        if (!it.get(k)) return fail(reply, conflictOrMissing(it, kind, req.params.id));
        const spec = { ...req.body, type, name } as Spec;
        try {
          put(spec);
        } catch (err) {
          return fail(reply, err);
        }
        await changed(k);
        return view(spec);
      },
    );

    app.delete<{ Params: { id: string } }>(
      `${path}/:id`,
      { schema: { summary: `Delete a ${kind} made through the API (on every node)`, tags: ['rules'], params: idParams, response: { 404: errorSchema, 409: errorSchema } } },
      async (req, reply) => {
        let gone: boolean;
        try {
          gone = kind === 'connector' ? it.deleteConnector(req.params.id) : it.deleteAction(req.params.id);
        } catch (err) {
          return fail(reply, err);
        }
        if (!gone) return reply.code(404).send({ code: 'NOT_FOUND', message: `no ${kind} ${req.params.id}` });
        await changed(`${kind}:${req.params.id}`);
        return reply.code(204).send();
      },
    );
  }
}

/** PUT on one the API did not make: of the configuration (409), or none (404). */
function conflictOrMissing(it: Integrations, kind: 'connector' | 'action', id: string): IntegrationError {
  return it.inConfig(kind, id)
    ? new IntegrationError(409, `${kind} ${id} is defined in the configuration (${kind}s.${id.replace(':', '.')}); change it there`)
    : new IntegrationError(404, `no ${kind} ${id}`);
}

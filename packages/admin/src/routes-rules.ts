/**
 * `/rules` and `/rule_test` (EMQX 5's rule engine API). Rules made here are kept in the
 * node's store and copied to every node; counters are per node (each evaluates what is
 * published on it) and answered summed over the cluster with each node's part.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ConfigRuleError, RuleError, RuleEvalError, RuleSqlError, newRuleMetrics, type RuleInfo, type RuleMetrics, type RuleSpec } from '@vireo/rules';
import type { Broker } from '@vireo/broker';
import { badRequest, errorSchema, notFound } from './errors.js';
import { markPartial, type ClusterQuery } from './cluster-query.js';
import { paginate, pageQuerySchema, type PageQuery } from './paging.js';
import { copyEntry, type SyncedTable } from './record-sync.js';
import type { RulesApi } from './rules-table.js';

const METRIC_KEYS = Object.keys(newRuleMetrics()) as (keyof RuleMetrics)[];
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** This node's part: every rule's counters. */
export function ruleOps(rules: RulesApi): Record<string, () => unknown> {
  return { 'rules.metrics': () => rules.store.engine.list().map((r) => [r.id, r.metrics]) };
}

export interface RuleView {
  id: string;
  name: string;
  sql: string;
  actions: RuleSpec['actions'];
  enable: boolean;
  description: string;
  from: string[];
  source: 'config' | 'api';
  created_at: string;
}

const view = (r: RuleInfo): RuleView => ({
  id: r.id,
  name: r.id,
  sql: r.sql,
  actions: r.actions,
  enable: r.enable,
  description: r.description,
  from: r.from,
  source: r.source,
  created_at: new Date(r.created_at).toISOString(),
});

const metricsSchema = { type: 'object', properties: Object.fromEntries(METRIC_KEYS.map((k) => [k, { type: 'integer' }])) } as const;
const ruleSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    sql: { type: 'string' },
    actions: { type: 'array', items: {} },
    enable: { type: 'boolean' },
    description: { type: 'string' },
    from: { type: 'array', items: { type: 'string' } },
    source: { type: 'string', description: 'config (vireo.yaml / environment, this node) or api (made through the API, on every node)' },
    created_at: { type: 'string' },
    metrics: metricsSchema,
    node_metrics: { type: 'array', items: { type: 'object', properties: { node: { type: 'string' }, metrics: metricsSchema } } },
  },
} as const;
const actionsSchema = {
  type: 'array',
  description: '"<type>:<name>" (an action of the configuration), {"function": "republish", "args": {topic, payload, qos, retain, user_properties}} or {"function": "console"}',
  items: { anyOf: [{ type: 'string' }, { type: 'object' }] },
} as const;
const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;

interface RuleBody {
  id?: string;
  name?: string;
  sql?: string;
  actions?: unknown[];
  enable?: boolean;
  description?: string;
}

/** EMQX's `event_type` of rule_test contexts, as rule events name them. */
const EVENT_TYPES: Record<string, string> = {
  message_publish: 'message.publish',
  client_connected: 'client.connected',
  client_disconnected: 'client.disconnected',
  client_connack: 'client.connack',
  session_subscribed: 'session.subscribed',
  session_unsubscribed: 'session.unsubscribed',
  message_delivered: 'message.delivered',
  message_acked: 'message.acked',
  message_dropped: 'message.dropped',
  delivery_dropped: 'delivery.dropped',
};

export function ruleRoutes(app: FastifyInstance, broker: Broker, q: ClusterQuery, rules: RulesApi, table: SyncedTable<RuleSpec>): void {
  const { store } = rules;
  const refuse = (reply: FastifyReply, err: unknown) => {
    if (err instanceof RuleError || err instanceof ConfigRuleError) return badRequest(reply, 'BAD_REQUEST', err.message);
    throw err;
  };
  const metricsOf = async (id: string, reply: FastifyReply) => {
    const g = await q.gather<[string, RuleMetrics][]>('rules.metrics', {});
    markPartial(reply, g.errors);
    const sum = newRuleMetrics();
    const node_metrics: { node: string; metrics: RuleMetrics }[] = [];
    for (const p of g.parts) {
      const m = p.value.find(([rid]) => rid === id)?.[1];
      if (!m) continue;
      node_metrics.push({ node: p.node, metrics: m });
      for (const k of METRIC_KEYS) sum[k] += m[k];
    }
    return { metrics: sum, node_metrics };
  };
  const changed = (id: string) => copyEntry(broker, q, table, id);

  app.get<{ Querystring: PageQuery & { enable?: boolean; like_id?: string; from?: string } }>(
    '/api/v5/rules',
    {
      schema: {
        summary: 'Rules of this node (those made through the API are on every node)',
        tags: ['rules'],
        querystring: {
          type: 'object',
          properties: {
            ...pageQuerySchema,
            enable: { type: 'boolean' },
            like_id: { type: 'string' },
            from: { type: 'string', description: 'only rules whose FROM has this topic or event' },
          },
        },
      },
    },
    async (req) => {
      const { enable, like_id, from } = req.query;
      return paginate(
        store.engine
          .list()
          .sort((a, b) => a.id.localeCompare(b.id))
          .map(view),
        req.query,
        (r) => (enable === undefined || r.enable === enable) && (like_id === undefined || r.id.includes(like_id)) && (from === undefined || r.from.includes(from)),
      );
    },
  );

  app.post<{ Body: RuleBody }>(
    '/api/v5/rules',
    {
      schema: {
        summary: 'Create a rule (on every node); an error in its SQL is refused naming the line and column',
        tags: ['rules'],
        body: {
          type: 'object',
          required: ['sql'],
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            sql: { type: 'string' },
            actions: actionsSchema,
            enable: { type: 'boolean', default: true },
            description: { type: 'string', default: '' },
          },
        },
        response: { 201: ruleSchema, 400: errorSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const id = b.id ?? b.name ?? `rule_${randomBytes(4).toString('hex')}`;
      if (!ID.test(id)) return badRequest(reply, 'BAD_REQUEST', `rule id ${JSON.stringify(id)}: letters, digits, _ and - only, starting with a letter or digit`);
      if (store.engine.get(id)) return badRequest(reply, 'ALREADY_EXISTS', `rule ${id} already exists`);
      let info: RuleInfo;
      try {
        info = store.put({ id, sql: b.sql!, actions: b.actions ?? [], enable: b.enable ?? true, description: b.description ?? '' });
      } catch (err) {
        return refuse(reply, err);
      }
      await changed(id);
      return reply.code(201).send(view(info));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v5/rules/:id',
    { schema: { summary: 'One rule, with its counters over the cluster', tags: ['rules'], params: idParams, response: { 200: ruleSchema, 404: errorSchema } } },
    async (req, reply) => {
      const info = store.engine.get(req.params.id);
      if (!info) return notFound(reply, 'NOT_FOUND', `no rule ${req.params.id}`);
      return { ...view(info), ...(await metricsOf(info.id, reply)) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v5/rules/:id/metrics',
    { schema: { summary: "A rule's counters: summed over the cluster, and per node", tags: ['rules'], params: idParams, response: { 404: errorSchema } } },
    async (req, reply) => {
      if (!store.engine.get(req.params.id)) return notFound(reply, 'NOT_FOUND', `no rule ${req.params.id}`);
      return { id: req.params.id, ...(await metricsOf(req.params.id, reply)) };
    },
  );

  app.put<{ Params: { id: string }; Body: RuleBody }>(
    '/api/v5/rules/:id',
    {
      schema: {
        summary: 'Change a rule (fields left out keep their value); on every node',
        tags: ['rules'],
        params: idParams,
        body: { type: 'object', properties: { sql: { type: 'string' }, actions: actionsSchema, enable: { type: 'boolean' }, description: { type: 'string' } } },
        response: { 200: ruleSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const old = store.engine.get(req.params.id);
      if (!old) return notFound(reply, 'NOT_FOUND', `no rule ${req.params.id}`);
      const b = req.body;
      let info: RuleInfo;
      try {
        info = store.put({ id: old.id, sql: b.sql ?? old.sql, actions: b.actions ?? old.actions, enable: b.enable ?? old.enable, description: b.description ?? old.description });
      } catch (err) {
        return refuse(reply, err);
      }
      await changed(old.id);
      return view(info);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v5/rules/:id',
    { schema: { summary: 'Delete a rule (on every node)', tags: ['rules'], params: idParams, response: { 400: errorSchema, 404: errorSchema } } },
    async (req, reply) => {
      let gone: boolean;
      try {
        gone = store.delete(req.params.id);
      } catch (err) {
        return refuse(reply, err);
      }
      if (!gone) return notFound(reply, 'NOT_FOUND', `no rule ${req.params.id}`);
      await changed(req.params.id);
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { sql: string; context?: Record<string, unknown> } }>(
    '/api/v5/rule_test',
    {
      schema: {
        summary: 'Run a SQL statement on a sample event: its output, or 412 NOT_MATCH when FROM or WHERE does not match',
        tags: ['rules'],
        body: {
          type: 'object',
          required: ['sql'],
          properties: {
            sql: { type: 'string' },
            context: {
              type: 'object',
              description: 'The event: event_type (message_publish, client_connected, …) and its fields; missing fields take sample values',
              additionalProperties: true,
            },
          },
        },
        response: { 400: errorSchema, 412: errorSchema },
      },
    },
    async (req, reply) => {
      const ctx = { ...req.body.context };
      const eventType = typeof ctx.event_type === 'string' ? ctx.event_type : 'message_publish';
      const event = EVENT_TYPES[eventType];
      if (!event) return badRequest(reply, 'BAD_REQUEST', `unknown event_type ${eventType} (${Object.keys(EVENT_TYPES).join(', ')})`);
      const sample = {
        event,
        event_type: eventType,
        clientid: 'c_emqx',
        username: 'u_emqx',
        peerhost: '127.0.0.1',
        node: broker.options.nodeName,
        timestamp: Date.now(),
        ...(event.startsWith('message.') || event === 'delivery.dropped'
          ? { id: '0', topic: 't/a', qos: 1, payload: '{"msg": "hello"}', flags: { retain: false, dup: false }, pub_props: {}, publish_received_at: Date.now() }
          : {}),
        ...(event.startsWith('session.') ? { topic: 't/a', qos: 1 } : {}),
        ...ctx,
      };
      try {
        const out = store.engine.test(req.body.sql, sample);
        if (out === undefined) return reply.code(412).send({ code: 'NOT_MATCH', message: 'SQL Not Match' });
        return out;
      } catch (err) {
        if (err instanceof RuleSqlError || err instanceof RuleEvalError) return badRequest(reply, 'BAD_REQUEST', err.message);
        throw err;
      }
    },
  );
}

/**
 * `rule_engine.rules.<id>`, `connectors.{pgsql,redis,http}.<name>` and
 * `actions.{pgsql,redis,http}.<name>`: EMQX 5's rule engine and data integration keys.
 * A rule's SQL is compiled at start-up (rules-config.ts): a syntax error stops start-up
 * naming the key and the line and column.
 */
import { parseActionRef, type ActionRef } from '@vireo/rules';
import { isAddress, isHttpUrl } from '../config-values.js';
import { bool, bytesize, duration, int, list, named, oneOf, optionalStr, str, value, type SchemaNode } from '../schema-dsl.js';

const ruleActions = value<ActionRef[]>({
  default: [],
  docDefault: '[]',
  expected: 'a list of "<type>:<name>" and {function: republish, args: {...}} items',
  description:
    'Where the rule\'s output goes, in order: `"pgsql:<name>"`, `"redis:<name>"`, `"http:<name>"` (an action below), `{function: republish, args: {topic, payload, qos, retain, user_properties}}` (templates: `${field}` of the output, `${.}` the whole output as JSON; defaults `${payload}`, `${qos}`, `${flags.retain}`), or `{function: console}` (logs the output). Through the environment: a YAML list.',
  parse: (raw) => {
    if (!Array.isArray(raw)) return { errors: [{ at: '', message: `expected a list, got ${JSON.stringify(raw)}` }] };
    const refs: ActionRef[] = [];
    const errors: { at: string; message: string }[] = [];
    raw.forEach((item, i) => {
      const r = parseActionRef(item);
      if ('error' in r) errors.push({ at: `[${i}]`, message: r.error });
      else refs.push(r.ref);
    });
    return errors.length ? { errors } : { value: refs };
  },
});

const rule = {
  sql: str({ default: '', description: 'The rule: `SELECT … FROM "<topic filter>", "$events/…" WHERE …` (docs/rules.md). Required.' }),
  actions: ruleActions,
  enable: bool({ default: true, description: 'Run this rule. `false` keeps it (and its counters) without evaluating it.' }),
  description: str({ default: '', description: 'Free text shown by the API.' }),
} as const satisfies SchemaNode;

export const ruleEngineSchema = {
  rules: named({ description: 'Rules by id: each evaluates the messages and events its FROM names, on the node where they happen.', item: rule }),
} as const satisfies SchemaNode;

const address = (def: string, what: string) => str({ default: def, description: `${what}, \`host:port\`.`, check: (v) => (isAddress(v) ? undefined : 'host:port') });

const resourceOpts = {
  batch_size: int({ default: 100, min: 1, max: 10_000, description: 'Outputs written together (one multi-row statement, one pipeline, one request per output).' }),
  batch_time: duration({ default: 10, min: 0, max: 60_000, description: 'How long a batch may wait to fill up before it is written anyway.' }),
  max_buffer_bytes: bytesize({
    default: 64 * 1024 * 1024,
    min: 1024,
    max: 16 * 1024 * 1024 * 1024,
    description: "Outputs held while the database is slow or down (their rendered size); past it new outputs are dropped, counted as the rule's actions.failed and logged.",
  }),
  request_ttl: duration({ default: 30_000, min: 100, max: 3_600_000, description: 'How long one write may take before it counts as failed and is retried.' }),
  health_check_interval: duration({
    default: 15_000,
    min: 100,
    max: 3_600_000,
    description: 'Longest wait between two attempts while the database is unreachable (the wait starts at 100 ms and doubles).',
  }),
} as const satisfies SchemaNode;

export const connectorsSchema = {
  pgsql: named({
    description: 'PostgreSQL servers, by name.',
    item: {
      enable: bool({ default: true, description: 'Connect. `false` keeps the settings; actions using it report `disconnected`.' }),
      server: address('127.0.0.1:5432', 'The PostgreSQL server'),
      database: str({ default: 'postgres', description: 'Database name.' }),
      username: str({ default: 'postgres', description: 'User name.' }),
      password: optionalStr({ default: undefined, docDefault: 'none', description: 'Password.' }),
      pool_size: int({ default: 8, min: 1, max: 1024, description: 'Connections kept open.' }),
      connect_timeout: duration({ default: 5000, min: 100, max: 300_000, description: 'How long a connection attempt may take.' }),
    },
  }),
  redis: named({
    description: 'Redis servers, by name.',
    item: {
      enable: bool({ default: true, description: 'Connect. `false` keeps the settings; actions using it report `disconnected`.' }),
      parameters: {
        redis_type: oneOf({ default: 'single', values: ['single'], description: "Only `single` (one server); EMQX's `sentinel` and `cluster` are not supported." }),
        server: address('127.0.0.1:6379', 'The Redis server'),
        database: int({ default: 0, min: 0, max: 1000, description: 'Database number.' }),
        username: optionalStr({ default: undefined, docDefault: 'none', description: 'User name (Redis 6 ACL).' }),
        password: optionalStr({ default: undefined, docDefault: 'none', description: 'Password.' }),
      },
    },
  }),
  http: named({
    description: 'HTTP servers, by name.',
    item: {
      enable: bool({ default: true, description: 'Send requests. `false` keeps the settings; actions using it report `disconnected`.' }),
      url: str({
        default: '',
        description: "Base URL (`http://` or `https://`); an action's `path` is appended. Required.",
        check: (v) => (v === '' || isHttpUrl(v) ? undefined : 'an http(s) URL'),
      }),
      headers: list({ default: [], item: 'string', description: 'Headers of every request, each `Name: value`.' }),
      connect_timeout: duration({ default: 5000, min: 100, max: 300_000, description: 'How long a request may wait for the server.' }),
    },
  }),
} as const satisfies SchemaNode;

export const actionsSchema = {
  pgsql: named({
    description: 'PostgreSQL writes, by name; a rule refers to one as `pgsql:<name>`.',
    item: {
      enable: bool({ default: true, description: 'Write. `false`: outputs sent here are counted as failed.' }),
      connector: str({ default: '', description: 'Name of a `connectors.pgsql` entry. Required.' }),
      parameters: {
        sql: str({
          default: '',
          description:
            'The statement, with `${field}` placeholders sent as parameters ($1, $2, …: never pasted into the SQL). Several outputs of an `INSERT … VALUES (…)` go as one multi-row INSERT. Required.',
        }),
      },
      resource_opts: resourceOpts,
    },
  }),
  redis: named({
    description: 'Redis commands, by name; a rule refers to one as `redis:<name>`.',
    item: {
      enable: bool({ default: true, description: 'Send. `false`: outputs sent here are counted as failed.' }),
      connector: str({ default: '', description: 'Name of a `connectors.redis` entry. Required.' }),
      parameters: {
        command_template: list({
          default: [],
          item: 'string',
          description: 'The command and its arguments, each a `${field}` template, e.g. `[HSET, "dev:${clientid}", temp, "${t}"]`. Batches go as one pipeline. Required.',
        }),
      },
      resource_opts: resourceOpts,
    },
  }),
  http: named({
    description: 'HTTP requests, by name; a rule refers to one as `http:<name>`.',
    item: {
      enable: bool({ default: true, description: 'Send. `false`: outputs sent here are counted as failed.' }),
      connector: str({ default: '', description: 'Name of a `connectors.http` entry. Required.' }),
      parameters: {
        method: oneOf({ default: 'post', values: ['post', 'put', 'get', 'delete'], description: 'Request method.' }),
        path: str({ default: '', description: "Appended to the connector's URL; a `${field}` template." }),
        body: str({ default: '${.}', description: 'Request body, a `${field}` template; `${.}` is the whole output as JSON.' }),
        headers: list({ default: [], item: 'string', description: "Headers added to the connector's, each `Name: value`." }),
      },
      resource_opts: resourceOpts,
    },
  }),
} as const satisfies SchemaNode;

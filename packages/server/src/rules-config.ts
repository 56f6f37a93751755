/**
 * Starts the rule engine of `rule_engine.rules`, with the connectors and actions of
 * `connectors.*` and `actions.*`. Everything wrong with them (a SQL syntax error, with its
 * line and column; an action naming a missing connector or action; a bad template) stops
 * start-up naming the key, before anything connects.
 */
import type { Logger } from 'pino';
import type { Broker, RecordTables } from '@vireo/broker';
import {
  DisabledConnector,
  DisabledSink,
  HttpConnector,
  HttpSink,
  PgConnector,
  PgSink,
  RedisConnector,
  RedisSink,
  RuleEngine,
  RuleError,
  RuleStore,
  Integrations,
  headerMap,
  type Connector,
  type RuleAction,
  type Sink,
  type SinkOptions,
} from '@vireo/rules';
import { ConfigError } from './config-error.js';
import type { VireoConfig } from './config-schema.js';
import type { ConfigIssue } from './config-validate.js';

export interface RulesRuntime {
  engine: RuleEngine;
  store: RuleStore;
  /** Actions by `<type>:<name>`, for status and counters. */
  sinks: ReadonlyMap<string, Sink<unknown>>;
  connectors: ReadonlyMap<string, Connector>;
  /** Connectors and actions made through the API. */
  integrations: Integrations;
  close(): Promise<void>;
}

type ResourceOpts = VireoConfig['actions']['pgsql'][string]['resource_opts'];

const sinkOptions = (r: ResourceOpts): SinkOptions => ({
  batchSize: r.batch_size,
  batchTime: r.batch_time,
  maxBufferBytes: r.max_buffer_bytes,
  requestTtl: r.request_ttl,
  maxBackoff: r.health_check_interval,
});

function hostPort(server: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(server);
  return { host: m?.[1] ?? server, port: m?.[2] ? Number(m[2]) : defaultPort };
}

/** How often a connector's status is checked while nothing is written (ms). */
const PROBE_INTERVAL = 15_000;

export function startRulesFor(config: VireoConfig, broker: Broker, logger: Logger, tables?: RecordTables): RulesRuntime {
  const issues: ConfigIssue[] = [];
  const connectors = new Map<string, Connector>();
  const sinks = new Map<string, Sink<unknown>>();
  const fail = (path: string, message: string) => issues.push({ path, message });

  // connectors: built only when an enabled action uses them
  const used = new Set<string>();
  for (const type of ['pgsql', 'redis', 'http'] as const) {
    for (const [name, a] of Object.entries(config.actions[type] as Record<string, { enable: boolean; connector: string }>)) {
      if (!a.enable) continue;
      const at = `actions.${type}.${name}.connector`;
      if (a.connector === '') fail(at, `required: the name of a connectors.${type} entry`);
      else if (!Object.hasOwn(config.connectors[type], a.connector)) fail(at, `no connectors.${type}.${a.connector}`);
      else used.add(`${type}:${a.connector}`);
    }
  }
  if (issues.length) throw new ConfigError(issues);
  const makeConnector = (key: string): Connector => {
    const [type, name] = key.split(':') as ['pgsql' | 'redis' | 'http', string];
    if (!config.connectors[type][name]!.enable) return new DisabledConnector(name);
    if (type === 'pgsql') {
      const c = config.connectors.pgsql[name]!;
      const { host, port } = hostPort(c.server, 5432);
      return new PgConnector({ name, host, port, database: c.database, user: c.username, password: c.password, poolSize: c.pool_size, connectTimeout: c.connect_timeout }, logger);
    }
    if (type === 'redis') {
      const p = config.connectors.redis[name]!.parameters;
      const { host, port } = hostPort(p.server, 6379);
      return new RedisConnector({ name, host, port, database: p.database, username: p.username, password: p.password, maxBackoff: 5000 }, logger);
    }
    const c = config.connectors.http[name]!;
    if (c.url === '') throw new ConfigError([{ path: `connectors.http.${name}.url`, message: 'required: an http(s) URL' }]);
    let headers: Record<string, string>;
    try {
      headers = headerMap(c.headers);
    } catch (err) {
      throw new ConfigError([{ path: `connectors.http.${name}.headers`, message: (err as Error).message }]);
    }
    return new HttpConnector({ name, url: c.url, headers, connectTimeout: c.connect_timeout });
  };

  const actions = new Map<string, RuleAction>();
  const build = () => {
    for (const key of used) connectors.set(key, makeConnector(key));
    for (const [name, a] of Object.entries(config.actions.pgsql)) {
      if (!a.enable) continue;
      const at = `actions.pgsql.${name}.parameters.sql`;
      if (a.parameters.sql.trim() === '') fail(at, 'required: the statement, with ${field} placeholders');
      else
        add(`pgsql:${name}`, at, () => new PgSink(`pgsql:${name}`, connectors.get(`pgsql:${a.connector}`) as PgConnector, a.parameters.sql, sinkOptions(a.resource_opts), logger));
    }
    for (const [name, a] of Object.entries(config.actions.redis)) {
      if (!a.enable) continue;
      const at = `actions.redis.${name}.parameters.command_template`;
      add(
        `redis:${name}`,
        at,
        () => new RedisSink(`redis:${name}`, connectors.get(`redis:${a.connector}`) as RedisConnector, a.parameters.command_template, sinkOptions(a.resource_opts), logger),
      );
    }
    for (const [name, a] of Object.entries(config.actions.http)) {
      if (!a.enable) continue;
      const p = a.parameters;
      add(
        `http:${name}`,
        `actions.http.${name}.parameters`,
        () =>
          new HttpSink(
            `http:${name}`,
            connectors.get(`http:${a.connector}`) as HttpConnector,
            { method: p.method, path: p.path, body: p.body, headers: headerMap(p.headers) },
            sinkOptions(a.resource_opts),
            logger,
          ),
      );
    }
  };
  const add = (id: string, at: string, make: () => Sink<unknown>) => {
    const [type, name] = id.split(':') as ['pgsql' | 'redis' | 'http', string];
    const conn = connectors.get(`${type}:${config.actions[type][name]!.connector}`);
    try {
      const s = conn instanceof DisabledConnector ? new DisabledSink(id, conn, sinkOptions(config.actions[type][name]!.resource_opts), logger) : make();
      sinks.set(id, s);
      actions.set(id, s);
    } catch (err) {
      fail(at, (err as Error).message);
    }
  };
  const closeConnectors = () => Promise.all([...connectors.values()].map((c) => c.close().catch(() => undefined)));
  try {
    build();
  } catch (err) {
    void closeConnectors();
    throw err;
  }

  const engine = new RuleEngine(broker, { logger, actions });
  for (const [id, r] of Object.entries(config.rule_engine.rules)) {
    const at = `rule_engine.rules.${id}`;
    if (r.sql.trim() === '') {
      fail(`${at}.sql`, 'required: SELECT … FROM "<topic filter>" …');
      continue;
    }
    try {
      engine.put({ id, sql: r.sql, actions: r.actions, enable: r.enable, description: r.description }, 'config');
    } catch (err) {
      if (err instanceof RuleError) fail(`${at}.${err.field}`, err.message.slice(err.field.length + 2));
      else throw err;
    }
  }
  if (issues.length) {
    engine.close();
    void closeConnectors();
    throw new ConfigError(issues);
  }
  // connectors and actions made through the API, before the rules made through it that use them
  const integrations = new Integrations(engine, connectors, sinks, actions, tables?.table('integrations'), logger);
  integrations.loadSaved();
  const store = new RuleStore(engine, tables?.table('rules'), new Set(Object.keys(config.rule_engine.rules)), logger);
  store.loadSaved();

  for (const c of connectors.values()) void c.probe();
  const probe = setInterval(() => {
    for (const c of connectors.values()) if (c.status !== 'connected') void c.probe();
  }, PROBE_INTERVAL);
  probe.unref();
  const n = engine.list().length;
  if (n > 0 || sinks.size > 0) logger.info({ rules: n, actions: [...sinks.keys()] }, 'Rule engine started');
  return {
    engine,
    store,
    integrations,
    sinks,
    connectors,
    close: async () => {
      clearInterval(probe);
      engine.close();
      for (const s of sinks.values()) s.close();
      await closeConnectors();
    },
  };
}

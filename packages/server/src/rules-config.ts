/**
 * Starts the rule engine of `rule_engine.rules`, with the connectors and actions of
 * `connectors.*` and `actions.*`. Everything wrong with them (a SQL syntax error, with its
 * line and column; an action naming a missing connector or action; a bad template) stops
 * start-up naming the key, before anything connects.
 */
import type { Logger } from 'pino';
import type { Broker, RecordTables } from '@vireo/broker';
import {
  RuleEngine,
  RuleError,
  RuleStore,
  Integrations,
  SpecError,
  buildConnector,
  buildSink,
  type Connector,
  type RuleAction,
  type Sink,
  type SinkType,
  type ActionSpec,
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

/** An `actions.<type>.<name>` entry: the API's fields. */
type ConfigAction = Omit<ActionSpec, 'type' | 'name'> & { enable: boolean };

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

  const actions = new Map<string, RuleAction>();
  // the configuration's entries have the API's fields: one builder for both (@vireo/rules)
  const build = () => {
    for (const key of used) {
      const [type, name] = key.split(':') as [SinkType, string];
      try {
        connectors.set(key, buildConnector({ ...config.connectors[type][name]!, type, name }, logger));
      } catch (err) {
        if (!(err instanceof SpecError)) throw err;
        fail(`connectors.${type}.${name}.${err.field}`, err.message);
      }
    }
    for (const type of ['pgsql', 'redis', 'http'] as const) {
      for (const [name, a] of Object.entries(config.actions[type] as Record<string, ConfigAction>)) {
        if (!a.enable) continue;
        const id = `${type}:${name}`;
        try {
          const conn = connectors.get(`${type}:${a.connector}`);
          if (!conn) continue; // its connector's error is reported
          const s = buildSink(id, { ...a, type, name }, conn, logger);
          sinks.set(id, s);
          actions.set(id, s);
        } catch (err) {
          if (!(err instanceof SpecError)) throw err;
          fail(`actions.${type}.${name}.${err.field}`, err.message);
        }
      }
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

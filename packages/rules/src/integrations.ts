/**
 * Connectors and actions made through the API (EMQX 5's `POST/PUT/DELETE /connectors` and
 * `/actions`), beside those of the configuration: built into the same maps the rule engine
 * and the API read, kept in the node's record table `integrations` so they survive a
 * restart, and copied to every node by the admin package (as rules are). Those of the
 * configuration are read-only here (they would come back at the next start).
 *
 * A changed connector or action is built anew and the actions and rules using it are
 * rebuilt on the new one; the old one is closed. A connector an action uses, or an action a
 * rule uses, cannot be deleted.
 */
import type { Logger } from 'pino';
import type { RecordTable } from '@vireo/broker';
import type { RuleEngine } from './engine.js';
import type { RuleAction, SinkType } from './actions/action.js';
import { DisabledConnector, DisabledSink, type Connector, type Sink, type SinkOptions } from './actions/sink.js';
import { PgConnector, PgSink } from './actions/pgsql.js';
import { RedisConnector, RedisSink } from './actions/redis.js';
import { HttpConnector, HttpSink, headerMap } from './actions/http.js';

export const INTEGRATION_TYPES: readonly SinkType[] = ['pgsql', 'redis', 'http'];

/** A connector as the API takes it (EMQX's fields for each type). */
export interface ConnectorSpec {
  type: SinkType;
  name: string;
  enable?: boolean;
  /** http */
  url?: string;
  headers?: string[];
  /** pgsql */
  server?: string;
  database?: string;
  username?: string;
  password?: string;
  pool_size?: number;
  connect_timeout?: number | string;
  /** redis */
  parameters?: { redis_type?: 'single'; server: string; database?: number; username?: string; password?: string };
}

/** An action as the API takes it. */
export interface ActionSpec {
  type: SinkType;
  name: string;
  enable?: boolean;
  connector: string;
  parameters: { sql?: string; command_template?: string[]; method?: string; path?: string; body?: string; headers?: string[] };
  resource_opts?: { batch_size?: number; batch_time?: number | string; max_buffer_bytes?: number; request_ttl?: number | string; health_check_interval?: number | string };
}

/** A change refused: `status` 400 (bad), 404 (none), 409 (in use, or of the configuration). */
export class IntegrationError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/** `5000`, `"5s"`, `"100ms"`, `"1m"` → ms. */
export function durationMs(v: number | string | undefined, def: number, field: string): number {
  if (v === undefined) return def;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  const m = typeof v === 'string' ? /^(\d+)(ms|s|m|h)?$/.exec(v.trim()) : null;
  if (!m) throw new IntegrationError(400, `${field}: a duration such as 5s, 100ms or a number of ms`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms']!;
}

function hostPort(server: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(server);
  return { host: m?.[1] ?? server, port: m?.[2] ? Number(m[2]) : defaultPort };
}

const key = (kind: 'connector' | 'action', id: string) => `${kind}:${id}`;

export class Integrations {
  private readonly specs = new Map<string, ConnectorSpec | ActionSpec>();

  constructor(
    private readonly engine: RuleEngine,
    /** `<type>:<name>` → connector; shared with the API's views. */
    private readonly connectors: Map<string, Connector>,
    /** `<type>:<name>` → action; shared with the API's views and the engine (its `actions`). */
    private readonly sinks: Map<string, Sink<unknown>>,
    private readonly actions: Map<string, RuleAction>,
    private readonly table: RecordTable | undefined,
    private readonly logger: Logger,
  ) {}

  /** Builds those saved through the API (connectors first); one that fails is logged and left out. */
  loadSaved(): void {
    const saved = [...(this.table?.entries() ?? [])].sort(([a], [b]) => (a.startsWith('connector:') === b.startsWith('connector:') ? 0 : a.startsWith('connector:') ? -1 : 1));
    for (const [k, text] of saved) {
      try {
        const spec = JSON.parse(text) as ConnectorSpec | ActionSpec;
        if (k.startsWith('connector:')) this.putConnector(spec as ConnectorSpec, false);
        else this.putAction(spec as ActionSpec, false);
      } catch (err) {
        this.logger.error({ id: k, err: (err as Error).message }, 'A connector or action saved through the API could not be built; it is not running');
      }
    }
  }

  /** Those made through the API, as the table copies them (connectors first). */
  entries(): [string, ConnectorSpec | ActionSpec][] {
    return [...this.specs.entries()].sort(([a], [b]) => (a.startsWith('connector:') === b.startsWith('connector:') ? a.localeCompare(b) : a.startsWith('connector:') ? -1 : 1));
  }

  get(k: string): ConnectorSpec | ActionSpec | undefined {
    return this.specs.get(k);
  }

  isApiMade(kind: 'connector' | 'action', id: string): boolean {
    return this.specs.has(key(kind, id));
  }

  /** Defined in the configuration (read-only here). */
  inConfig(kind: 'connector' | 'action', id: string): boolean {
    return !this.specs.has(key(kind, id)) && (kind === 'connector' ? this.connectors.has(id) : this.sinks.has(id));
  }

  /** Adds or replaces a connector (and rebuilds the actions on it). Throws IntegrationError. */
  putConnector(spec: ConnectorSpec, save = true): void {
    const id = `${spec.type}:${spec.name}`;
    if (this.connectors.has(id) && !this.specs.has(key('connector', id)))
      throw new IntegrationError(409, `connector ${id} is defined in the configuration (connectors.${spec.type}.${spec.name})`);
    const c = this.makeConnector(spec);
    const old = this.connectors.get(id);
    this.connectors.set(id, c);
    this.specs.set(key('connector', id), spec);
    if (save) this.table?.put(key('connector', id), JSON.stringify(spec));
    void c.probe();
    // actions on the old connector move to the new one
    for (const [aid, s] of [...this.specs.entries()]) {
      if (!aid.startsWith('action:')) continue;
      const a = s as ActionSpec;
      if (`${a.type}:${a.connector}` === id) this.putAction(a, false);
    }
    if (old) void old.close().catch(() => undefined);
    this.logger.info({ connector: id }, 'Connector put through the API');
  }

  deleteConnector(id: string): boolean {
    if (!this.specs.has(key('connector', id))) {
      if (this.connectors.has(id)) throw new IntegrationError(409, `connector ${id} is defined in the configuration`);
      return false;
    }
    const users = [...this.sinks.values()].filter((s) => s.connector === this.connectors.get(id)).map((s) => s.id);
    if (users.length > 0) throw new IntegrationError(409, `connector ${id} is used by ${users.join(', ')}: delete or change those first`);
    const c = this.connectors.get(id);
    this.connectors.delete(id);
    this.specs.delete(key('connector', id));
    this.table?.delete(key('connector', id));
    if (c) void c.close().catch(() => undefined);
    return true;
  }

  /** Adds or replaces an action (and re-puts the rules that use it). Throws IntegrationError. */
  putAction(spec: ActionSpec, save = true): void {
    const id = `${spec.type}:${spec.name}`;
    if (this.sinks.has(id) && !this.specs.has(key('action', id)))
      throw new IntegrationError(409, `action ${id} is defined in the configuration (actions.${spec.type}.${spec.name})`);
    const conn = this.connectors.get(`${spec.type}:${spec.connector}`);
    if (!conn) throw new IntegrationError(400, `connector: no ${spec.type} connector ${spec.connector}`);
    const sink = this.makeSink(id, spec, conn);
    const old = this.sinks.get(id);
    this.sinks.set(id, sink);
    this.actions.set(id, sink);
    this.specs.set(key('action', id), spec);
    if (save) this.table?.put(key('action', id), JSON.stringify(spec));
    this.rebuildRulesUsing(id);
    old?.close();
  }

  deleteAction(id: string): boolean {
    if (!this.specs.has(key('action', id))) {
      if (this.sinks.has(id)) throw new IntegrationError(409, `action ${id} is defined in the configuration`);
      return false;
    }
    const rules = this.rulesUsing(id);
    if (rules.length > 0) throw new IntegrationError(409, `action ${id} is used by rule ${rules.join(', ')}: change those rules first`);
    const s = this.sinks.get(id);
    this.sinks.delete(id);
    this.actions.delete(id);
    this.specs.delete(key('action', id));
    this.table?.delete(key('action', id));
    s?.close();
    return true;
  }

  private rulesUsing(actionId: string): string[] {
    return this.engine
      .list()
      .filter((r) => r.actions.some((a) => a === actionId))
      .map((r) => r.id);
  }

  /** Rules hold the action objects they were compiled with: compile them again on the new one. */
  private rebuildRulesUsing(actionId: string): void {
    for (const r of this.engine.list()) {
      if (!r.actions.some((a) => a === actionId)) continue;
      this.engine.put({ id: r.id, sql: r.sql, actions: r.actions, enable: r.enable, description: r.description }, r.source);
    }
  }

  private makeConnector(s: ConnectorSpec): Connector {
    const name = s.name;
    if (s.enable === false) return new DisabledConnector(name);
    const timeout = durationMs(s.connect_timeout, 5000, 'connect_timeout');
    if (s.type === 'pgsql') {
      if (!s.server) throw new IntegrationError(400, 'server: required, host:port');
      const { host, port } = hostPort(s.server, 5432);
      return new PgConnector(
        { name, host, port, database: s.database ?? 'postgres', user: s.username ?? 'postgres', password: s.password, poolSize: s.pool_size ?? 8, connectTimeout: timeout },
        this.logger,
      );
    }
    if (s.type === 'redis') {
      const p = s.parameters;
      if (!p?.server) throw new IntegrationError(400, 'parameters.server: required, host:port');
      const { host, port } = hostPort(p.server, 6379);
      return new RedisConnector({ name, host, port, database: p.database ?? 0, username: p.username, password: p.password, maxBackoff: 5000 }, this.logger);
    }
    if (!s.url || !/^https?:\/\//.test(s.url)) throw new IntegrationError(400, 'url: required, an http(s) URL');
    let headers: Record<string, string>;
    try {
      headers = headerMap(s.headers ?? []);
    } catch (err) {
      throw new IntegrationError(400, `headers: ${(err as Error).message}`);
    }
    return new HttpConnector({ name, url: s.url, headers, connectTimeout: timeout });
  }

  private makeSink(id: string, s: ActionSpec, conn: Connector): Sink<unknown> {
    const r = s.resource_opts ?? {};
    const opts: SinkOptions = {
      batchSize: r.batch_size ?? 100,
      batchTime: durationMs(r.batch_time, 10, 'resource_opts.batch_time'),
      maxBufferBytes: r.max_buffer_bytes ?? 64 * 1024 * 1024,
      requestTtl: durationMs(r.request_ttl, 30_000, 'resource_opts.request_ttl'),
      maxBackoff: durationMs(r.health_check_interval, 15_000, 'resource_opts.health_check_interval'),
    };
    if (s.enable === false || conn instanceof DisabledConnector) return new DisabledSink(id, conn, opts, this.logger);
    const p = s.parameters ?? {};
    try {
      if (s.type === 'pgsql') {
        if (!p.sql?.trim()) throw new Error('parameters.sql: required, the statement with ${field} placeholders');
        return new PgSink(id, conn as PgConnector, p.sql, opts, this.logger);
      }
      if (s.type === 'redis') return new RedisSink(id, conn as RedisConnector, p.command_template ?? [], opts, this.logger);
      return new HttpSink(
        id,
        conn as HttpConnector,
        { method: p.method ?? 'post', path: p.path ?? '', body: p.body ?? '${.}', headers: headerMap(p.headers ?? []) },
        opts,
        this.logger,
      );
    } catch (err) {
      if (err instanceof IntegrationError) throw err;
      throw new IntegrationError(400, (err as Error).message);
    }
  }
}

/**
 * Builds a connector or an action from its spec (EMQX 5's fields for each type). One
 * builder for both origins: `connectors.*`/`actions.*` in the configuration and those made
 * through the API; each origin turns a `SpecError` into its own kind of error (a config key
 * path, or an HTTP 400).
 */
import type { Logger } from 'pino';
import { parseDuration } from '@vireo/broker';
import type { SinkType } from './action.js';
import { DisabledConnector, DisabledSink, type Connector, type Sink, type SinkOptions } from './sink.js';
import { PgConnector, PgSink } from './pgsql.js';
import { RedisConnector, RedisSink } from './redis.js';
import { HttpConnector, HttpSink, headerMap } from './http.js';

/** A connector as the configuration and the API take it. */
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

/** An action as the configuration and the API take it. */
export interface ActionSpec {
  type: SinkType;
  name: string;
  enable?: boolean;
  connector: string;
  parameters: { sql?: string; command_template?: string[]; method?: string; path?: string; body?: string; headers?: string[] };
  resource_opts?: { batch_size?: number; batch_time?: number | string; max_buffer_bytes?: number; request_ttl?: number | string; health_check_interval?: number | string };
}

/** A spec that cannot be built; `field` is the path inside the spec (`parameters.sql`). */
export class SpecError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** `5000` (ms), `"5s"`, `"100ms"`, `"1m"` → ms (@vireo/broker's parser, as the configuration reads them). */
export function durationMs(v: number | string | undefined, def: number, field: string): number {
  if (v === undefined) return def;
  const ms = parseDuration(v);
  if (ms === undefined) throw new SpecError(field, 'a duration such as 5s, 100ms or a number of ms');
  return ms;
}

function hostPort(server: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(server);
  return { host: m?.[1] ?? server, port: m?.[2] ? Number(m[2]) : defaultPort };
}

function headers(list: string[] | undefined, field: string): Record<string, string> {
  try {
    return headerMap(list ?? []);
  } catch (err) {
    throw new SpecError(field, (err as Error).message);
  }
}

/** Throws SpecError. A disabled connector is a stand-in that refuses writes. */
export function buildConnector(s: ConnectorSpec, logger: Logger): Connector {
  const name = s.name;
  if (s.enable === false) return new DisabledConnector(name);
  const timeout = durationMs(s.connect_timeout, 5000, 'connect_timeout');
  if (s.type === 'pgsql') {
    if (!s.server) throw new SpecError('server', 'required, host:port');
    const { host, port } = hostPort(s.server, 5432);
    return new PgConnector(
      { name, host, port, database: s.database ?? 'postgres', user: s.username ?? 'postgres', password: s.password, poolSize: s.pool_size ?? 8, connectTimeout: timeout },
      logger,
    );
  }
  if (s.type === 'redis') {
    const p = s.parameters;
    if (!p?.server) throw new SpecError('parameters.server', 'required, host:port');
    const { host, port } = hostPort(p.server, 6379);
    return new RedisConnector({ name, host, port, database: p.database ?? 0, username: p.username, password: p.password, maxBackoff: 5000 }, logger);
  }
  if (!s.url || !/^https?:\/\//.test(s.url)) throw new SpecError('url', 'required, an http(s) URL');
  return new HttpConnector({ name, url: s.url, headers: headers(s.headers, 'headers'), connectTimeout: timeout });
}

/** Throws SpecError. An action that is disabled, or on a disabled connector, refuses writes. */
export function buildSink(id: string, s: ActionSpec, conn: Connector, logger: Logger): Sink<unknown> {
  const r = s.resource_opts ?? {};
  const opts: SinkOptions = {
    batchSize: r.batch_size ?? 100,
    batchTime: durationMs(r.batch_time, 10, 'resource_opts.batch_time'),
    maxBufferBytes: r.max_buffer_bytes ?? 64 * 1024 * 1024,
    requestTtl: durationMs(r.request_ttl, 30_000, 'resource_opts.request_ttl'),
    maxBackoff: durationMs(r.health_check_interval, 15_000, 'resource_opts.health_check_interval'),
  };
  if (s.enable === false || conn instanceof DisabledConnector) return new DisabledSink(id, conn, opts, logger);
  const p = s.parameters ?? {};
  if (s.type === 'pgsql') {
    if (!p.sql?.trim()) throw new SpecError('parameters.sql', 'required, the statement with ${field} placeholders');
    return wrap('parameters.sql', () => new PgSink(id, conn as PgConnector, p.sql!, opts, logger));
  }
  if (s.type === 'redis') return wrap('parameters.command_template', () => new RedisSink(id, conn as RedisConnector, p.command_template ?? [], opts, logger));
  const hs = headers(p.headers, 'parameters.headers');
  return wrap('parameters', () => new HttpSink(id, conn as HttpConnector, { method: p.method ?? 'post', path: p.path ?? '', body: p.body ?? '${.}', headers: hs }, opts, logger));
}

/** A template the sink's constructor refuses (an unknown placeholder, say) names its field. */
function wrap(field: string, make: () => Sink<unknown>): Sink<unknown> {
  try {
    return make();
  } catch (err) {
    throw new SpecError(field, (err as Error).message);
  }
}

/**
 * PostgreSQL: a pool per connector, and actions whose SQL templates become parameterised
 * statements: each `${field}` is a `$n` parameter whose value travels apart from the SQL
 * text, so no output can change the statement. A batch of an `INSERT … VALUES (…)` goes as
 * one multi-row INSERT; when the database refuses it for its data (not its connection),
 * the rows go one by one so that only the bad ones fail.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import type { Output } from '../sql/compile.js';
import { compileTemplate, lookup, type Template } from '../template.js';
import type { ActionStatus } from './action.js';
import { Sink, type Connector, type ItemResult, type SinkOptions } from './sink.js';

export interface PgConnectorOptions {
  name: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password: string | undefined;
  poolSize: number;
  connectTimeout: number;
}

export class PgConnector implements Connector {
  readonly name: string;
  readonly pool: pg.Pool;
  status: ActionStatus = 'connecting';

  constructor(
    o: PgConnectorOptions,
    private readonly logger: Logger,
  ) {
    this.name = o.name;
    this.pool = new pg.Pool({
      host: o.host,
      port: o.port,
      database: o.database,
      user: o.user,
      password: o.password,
      max: o.poolSize,
      connectionTimeoutMillis: o.connectTimeout,
      idleTimeoutMillis: 30_000,
    });
    // an idle connection the server dropped: without a listener this would kill the process
    this.pool.on('error', (err) => {
      this.mark(false, err);
    });
  }

  mark(ok: boolean, err?: Error): void {
    const next: ActionStatus = ok ? 'connected' : 'disconnected';
    if (next !== this.status) {
      if (ok) this.logger.info({ connector: `pgsql:${this.name}` }, 'Connector connected');
      else this.logger.warn({ connector: `pgsql:${this.name}`, err: err?.message }, 'Connector disconnected');
    }
    this.status = next;
  }

  async probe(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
      this.mark(true);
    } catch (err) {
      this.mark(false, err as Error);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Errors about the connection (worth retrying) rather than the statement or its data. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true; // ECONNREFUSED, timeouts, "Connection terminated"
  // 08 connection exception, 57 operator intervention (shutdown), 53 insufficient resources, 40 rollbacks (serialization)
  return /^(08|57|53|40)/.test(code);
}

/** The statement as text with `$n` parameters, and the template of each parameter. */
interface Prepared {
  text: string;
  params: Template[];
}

function prepare(source: string, offset = 0): Prepared {
  const t = compileTemplate(source);
  let text = t.parts[0]!;
  const params: Template[] = [];
  for (let i = 0; i < t.paths.length; i++) {
    // `'${x}'` written as a quoted literal still becomes a parameter
    let after = t.parts[i + 1]!;
    if (text.endsWith("'") && after.startsWith("'")) {
      text = text.slice(0, -1);
      after = after.slice(1);
    }
    params.push({ source: '', parts: ['', ''], paths: [t.paths[i]!] });
    text += `$${offset + params.length}` + after;
  }
  return { text, params };
}

/** `INSERT … VALUES (…) [suffix]` split around its one tuple, when the placeholders are all inside it. */
function splitInsert(sql: string): { prefix: string; tuple: string; suffix: string } | undefined {
  if (!/^\s*insert\s/i.test(sql)) return undefined;
  const m = /\bvalues\s*\(/i.exec(sql);
  if (!m || /\bvalues\s*\(/i.test(sql.slice(m.index + m[0].length))) return undefined;
  const open = m.index + m[0].length - 1;
  let depth = 0;
  let quote = false;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'") quote = !quote;
    else if (!quote && c === '(') depth++;
    else if (!quote && c === ')' && --depth === 0) {
      const prefix = sql.slice(0, open);
      const suffix = sql.slice(i + 1).replace(/;\s*$/, '');
      if (prefix.includes('${') || suffix.includes('${')) return undefined;
      return { prefix, tuple: sql.slice(open, i + 1), suffix };
    }
  }
  return undefined;
}

/** A parameter's value: text and numbers as they are, maps and lists as JSON, missing as NULL. */
function paramValue(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') return Buffer.isBuffer(v) ? v : JSON.stringify(v);
  return v;
}

export class PgSink extends Sink<unknown[]> {
  private readonly single: Prepared;
  private readonly insert: { prefix: string; tuple: string; suffix: string; width: number } | undefined;

  constructor(
    id: string,
    private readonly pg: PgConnector,
    sql: string,
    options: SinkOptions,
    logger: Logger,
  ) {
    super(id, pg, options, logger);
    this.single = prepare(sql);
    const parts = splitInsert(sql);
    if (parts) this.insert = { ...parts, width: this.single.params.length };
  }

  protected render(out: Output): { value: unknown[]; bytes: number } {
    const value = this.single.params.map((p) => paramValue(lookup(out, p.paths[0]!)));
    let bytes = 16;
    for (const v of value) bytes += typeof v === 'string' ? v.length : 8;
    return { value, bytes };
  }

  protected async write(batch: unknown[][], signal: AbortSignal): Promise<ItemResult[]> {
    if (batch.length > 1 && this.insert && this.insert.width > 0) {
      try {
        await this.query(this.multiRow(batch.length), batch.flat(), signal);
        this.pg.mark(true);
        return batch.map(() => 'ok');
      } catch (err) {
        if (isConnectionError(err)) {
          this.pg.mark(false, err as Error);
          throw err;
        }
        // the data of some row: find which, one by one
      }
    }
    const results: ItemResult[] = [];
    for (const row of batch) {
      if (results.includes('retry')) {
        results.push('retry');
        continue;
      }
      try {
        await this.query(this.single.text, row, signal);
        this.pg.mark(true);
        results.push('ok');
      } catch (err) {
        if (isConnectionError(err)) {
          this.pg.mark(false, err as Error);
          results.push('retry');
        } else {
          this.logger.warn({ action: this.id, err: (err as Error).message, code: (err as { code?: string }).code }, 'PostgreSQL refused a row');
          results.push('failed');
        }
      }
    }
    return results;
  }

  private readonly multiRowText = new Map<number, string>();

  private multiRow(rows: number): string {
    let text = this.multiRowText.get(rows);
    if (!text) {
      const ins = this.insert!;
      const tuples: string[] = [];
      for (let r = 0; r < rows; r++) tuples.push(prepare(ins.tuple, r * ins.width).text);
      text = `${ins.prefix}${tuples.join(', ')}${ins.suffix}`;
      if (this.multiRowText.size < 64) this.multiRowText.set(rows, text);
    }
    return text;
  }

  private query(text: string, values: unknown[], signal: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(Object.assign(new Error('request_ttl passed'), { code: 'ETIMEDOUT' }));
      signal.addEventListener('abort', onAbort, { once: true });
      this.pg.pool.query(text, values).then(
        (r) => (signal.removeEventListener('abort', onAbort), resolve(r)),
        (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e instanceof Error ? e : new Error(String(e)))),
      );
    });
  }
}

/**
 * HTTP: a request per output, sent by the webhook's request function (packages/bridge
 * http-request.ts), with a templated path and body, bounded by request_ttl. A network
 * error, a 5xx or a 429 is retried; another 4xx fails that output for good.
 */
import type { Logger } from 'pino';
import { httpRequest } from '@vireo/bridge';
import type { Output } from '../sql/compile.js';
import { compileTemplate, renderText, type Template } from '../template.js';
import type { ActionStatus } from './action.js';
import { Sink, type Connector, type ItemResult, type SinkOptions } from './sink.js';

export interface HttpConnectorOptions {
  name: string;
  url: string;
  headers: Record<string, string>;
  connectTimeout: number;
}

export class HttpConnector implements Connector {
  readonly name: string;
  status: ActionStatus = 'connecting';

  constructor(readonly options: HttpConnectorOptions) {
    this.name = options.name;
  }

  /** Any answer means the server is there. */
  async probe(): Promise<void> {
    try {
      const res = await fetch(this.options.url, { method: 'HEAD', signal: AbortSignal.timeout(this.options.connectTimeout) });
      await res.arrayBuffer().catch(() => undefined);
      this.status = 'connected';
    } catch {
      this.status = 'disconnected';
    }
  }

  async close(): Promise<void> {}
}

/** `Name: value` lines as a header map. */
export function headerMap(lines: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`header "${line}" is not "Name: value"`);
    out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return out;
}

interface Request {
  path: string;
  body: string;
}

export class HttpSink extends Sink<Request> {
  private readonly path: Template;
  private readonly body: Template;
  private readonly headers: Record<string, string>;

  constructor(
    id: string,
    private readonly http: HttpConnector,
    private readonly params: { method: string; path: string; body: string; headers: Record<string, string> },
    options: SinkOptions,
    logger: Logger,
  ) {
    super(id, http, options, logger);
    this.path = compileTemplate(params.path);
    this.body = compileTemplate(params.body);
    this.headers = { 'content-type': 'application/json', ...http.options.headers, ...params.headers };
  }

  protected render(out: Output): { value: Request; bytes: number } {
    const value = { path: renderText(this.path, out), body: renderText(this.body, out) };
    return { value, bytes: value.path.length + value.body.length + 16 };
  }

  protected async write(batch: Request[], signal: AbortSignal): Promise<ItemResult[]> {
    const base = this.http.options.url.replace(/\/$/, '');
    const method = this.params.method.toUpperCase();
    const results = await Promise.all(
      batch.map(async (r): Promise<ItemResult> => {
        const path = r.path === '' || r.path.startsWith('/') ? r.path : `/${r.path}`;
        const res = await httpRequest(base + path, { method, headers: this.headers, body: method === 'GET' ? undefined : r.body, signal });
        if (res.status === undefined || res.status >= 500 || res.status === 429) return 'retry';
        if (res.status < 300) return 'ok';
        this.logger.warn({ action: this.id, status: res.status, path }, 'HTTP server refused a request');
        return 'failed';
      }),
    );
    const up = results.some((r) => r !== 'retry');
    this.http.status = up ? 'connected' : 'disconnected';
    // keep order: once one must be retried, those after it wait with it
    const first = results.indexOf('retry');
    return first < 0 ? results : results.map((r, i) => (i >= first ? 'retry' : r));
  }
}

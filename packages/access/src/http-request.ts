/**
 * Requests to an authentication or authorization service: EMQX's `${…}` templates in the
 * URL, headers and body, kept-alive connections (`pool_size` per service), a timeout.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpServiceOptions {
  method: 'get' | 'post';
  url: string;
  headers: Readonly<Record<string, string>>;
  body: Readonly<Record<string, string>>;
  requestTimeout: number;
  poolSize: number;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

const PLACEHOLDER = /\$\{([a-z_]+)\}/g;
/** Headers whose values are credentials: not shown by the API. */
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key)$|token|secret|password/i;

/** Fills `${name}` from `vars`; an unknown or absent value becomes ''. */
export function render(template: string, vars: Readonly<Record<string, string | undefined>>, encode?: (v: string) => string): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    const v = vars[name] ?? '';
    return encode ? encode(v) : v;
  });
}

/** A service's settings with EMQX's field names, for the API; credential headers masked. */
export function serviceView(o: HttpServiceOptions): Record<string, unknown> {
  const headers = Object.fromEntries(Object.entries(o.headers).map(([k, v]) => [k, SECRET_HEADER.test(k) ? '******' : v]));
  return { url: o.url, method: o.method, headers, body: o.body, request_timeout: `${o.requestTimeout}ms`, pool_size: o.poolSize };
}

/** One service: its agent keeps `poolSize` connections open between requests. */
export class HttpService {
  private readonly agent: http.Agent;
  private readonly lib: typeof http | typeof https;

  constructor(private readonly opts: HttpServiceOptions) {
    const secure = opts.url.startsWith('https:');
    this.lib = secure ? https : http;
    this.agent = new this.lib.Agent({ keepAlive: true, maxSockets: opts.poolSize, maxFreeSockets: opts.poolSize });
  }

  get url(): string {
    return this.opts.url;
  }

  /** The request as it would be sent: also the cache key of an answer. */
  prepare(vars: Readonly<Record<string, string | undefined>>): { url: string; headers: Record<string, string>; body: string | undefined } {
    const o = this.opts;
    const fields = Object.fromEntries(Object.entries(o.body).map(([k, t]) => [k, render(t, vars)]));
    let url = render(o.url, vars, encodeURIComponent);
    let body: string | undefined;
    if (o.method === 'get') {
      const q = new URLSearchParams(fields).toString();
      if (q) url += (url.includes('?') ? '&' : '?') + q;
    } else body = JSON.stringify(fields);
    const headers = Object.fromEntries(Object.entries(o.headers).map(([k, t]) => [k.toLowerCase(), render(t, vars)]));
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    return { url, headers, body };
  }

  /** Rejects on a network error or after `requestTimeout`. */
  send(req: { url: string; headers: Record<string, string>; body: string | undefined }): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const r = this.lib.request(
        req.url,
        {
          method: this.opts.method.toUpperCase(),
          headers: req.body === undefined ? req.headers : { ...req.headers, 'content-length': Buffer.byteLength(req.body) },
          agent: this.agent,
          timeout: this.opts.requestTimeout,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            // an answer is a small JSON object; anything much larger is not one
            if (size > 65_536) r.destroy(new Error('answer larger than 64 KiB'));
            else chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      r.on('timeout', () => r.destroy(new Error(`no answer within ${this.opts.requestTimeout} ms`)));
      r.on('error', reject);
      r.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** EMQX's answer: `{"result": "allow" | "deny" | "ignore", "is_superuser": bool}`, or 204 for allow. */
export function parseAnswer(a: HttpAnswer): { result: 'allow' | 'deny' | 'ignore'; isSuperuser: boolean; raw: Record<string, unknown> } | { error: string } {
  if (a.status === 204) return { result: 'allow', isSuperuser: false, raw: {} };
  if (a.status !== 200) return { error: `status ${a.status}` };
  let j: unknown;
  try {
    j = JSON.parse(a.body);
  } catch {
    return { error: 'answer is not JSON' };
  }
  const o = (typeof j === 'object' && j !== null ? j : {}) as Record<string, unknown>;
  const result = o.result;
  if (result !== 'allow' && result !== 'deny' && result !== 'ignore') return { error: `answer has no result allow, deny or ignore` };
  return { result, isSuperuser: o.is_superuser === true || o.is_superuser === 'true', raw: o };
}

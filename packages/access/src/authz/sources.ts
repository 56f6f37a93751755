/**
 * `authorization.sources`: EMQX's ordered list. A file source answers at once (its rules are
 * compiled in memory); an http source asks a service, so a request that reaches one is
 * answered asynchronously, and its answers go in the client's cache (authorization.cache).
 */
import type pino from 'pino';
import type { AuthorizeAction, ClientInfo } from '@vireo/broker';
import type { Acl, AclDecision } from '../acl.js';
import { BoundedCache } from '../bounded-cache.js';
import { HttpService, parseAnswer, type HttpServiceOptions } from '../http-request.js';

/** One PUBLISH topic or SUBSCRIBE filter to decide, with its QoS and retain flag when known. */
export interface AuthzRequest {
  action: AuthorizeAction;
  topic: string;
  qos: number | undefined;
  retain: boolean | undefined;
}

export interface FileSourceConfig {
  type: 'file';
  enable?: boolean;
  /** reads and compiles the file (throws AclError) */
  load: () => Acl;
  /** The file (for the API: its text, and writing new rules). */
  path?: string;
  /** Compiles rules written as the file is (throws AclError): checks new text before it is written. */
  compileText?: (text: string) => Acl;
}

export type SourceConfig = FileSourceConfig | ({ type: 'http'; enable?: boolean } & HttpServiceOptions);

export interface FileSource {
  readonly type: 'file';
  acl: Acl;
  readonly load: () => Acl;
  readonly path: string | undefined;
  readonly compileText: ((text: string) => Acl) | undefined;
}

export class HttpSource {
  readonly type = 'http';
  private readonly service: HttpService;

  constructor(
    opts: HttpServiceOptions,
    private readonly logger: pino.Logger,
  ) {
    this.service = new HttpService(opts);
  }

  get url(): string {
    return this.service.url;
  }

  /** allow / deny as the service says; `nomatch` for ignore, a failure or a timeout (logged). */
  async check(client: ClientInfo, ip: string, req: AuthzRequest): Promise<AclDecision> {
    const { action, topic } = req;
    const vars = {
      clientid: client.clientId,
      username: client.username,
      peerhost: ip,
      topic,
      action,
      qos: req.qos === undefined ? undefined : String(req.qos),
      retain: req.retain === undefined ? undefined : String(req.retain),
    };
    try {
      const a = parseAnswer(await this.service.send(this.service.prepare(vars)));
      if ('error' in a) {
        this.logger.warn({ clientid: client.clientId, url: this.service.url, topic, reason: a.error }, 'HTTP authorization service gave no answer; ignored');
        return 'nomatch';
      }
      return a.result === 'ignore' ? 'nomatch' : a.result;
    } catch (err) {
      this.logger.warn({ clientid: client.clientId, url: this.service.url, topic, reason: (err as Error).message }, 'HTTP authorization service unreachable; ignored');
      return 'nomatch';
    }
  }

  close(): void {
    this.service.close();
  }
}

export type Source = FileSource | HttpSource;

export function buildSources(configs: readonly SourceConfig[], logger: pino.Logger): Source[] {
  return configs
    .filter((c) => c.enable !== false)
    .map((c) => (c.type === 'file' ? { type: 'file' as const, acl: c.load(), load: c.load, path: c.path, compileText: c.compileText } : new HttpSource(c, logger)));
}

/** Per-client decisions (EMQX's authorization cache): bounded in size and time. */
export class AuthzCache {
  private readonly byClient = new Map<string, BoundedCache<boolean>>();

  constructor(private readonly opts: { maxSize: number; ttl: number }) {}

  get(clientId: string, req: AuthzRequest): boolean | undefined {
    return this.byClient.get(clientId)?.get(cacheKey(req));
  }

  set(clientId: string, req: AuthzRequest, allowed: boolean): void {
    let c = this.byClient.get(clientId);
    if (!c) this.byClient.set(clientId, (c = new BoundedCache(this.opts.maxSize, this.opts.ttl)));
    c.set(cacheKey(req), allowed);
  }

  drop(clientId: string): void {
    this.byClient.delete(clientId);
  }

  clear(): void {
    this.byClient.clear();
  }
}

/** Rules and services may decide by QoS and retain too, so they are part of the key. */
function cacheKey(r: AuthzRequest): string {
  return `${r.action === 'publish' ? 'p' : 's'}${r.qos ?? '-'}${r.retain === undefined ? '-' : r.retain ? 'r' : 'n'}${r.topic}`;
}

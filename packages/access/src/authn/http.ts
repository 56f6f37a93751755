/**
 * EMQX's `password_based:http`: asks a service, which answers `allow`, `deny` or `ignore`
 * (with `is_superuser`). A service that fails, times out or answers something else is taken
 * as `ignore` and logged, as EMQX does; the next authenticator decides. With `cache`, answers
 * are kept by the request they answered (the password included), bounded in size and time.
 */
import type pino from 'pino';
import type { AuthenticateRequest } from '@vireo/broker';
import { BoundedCache } from '../bounded-cache.js';
import { HttpService, parseAnswer, type HttpServiceOptions } from '../http-request.js';
import { templateVars, type Authenticator, type AuthnOutcome } from './authenticator.js';

export interface HttpAuthnOptions extends HttpServiceOptions {
  cache: { enable: boolean; maxSize: number; ttl: number };
}

export class HttpAuthenticator implements Authenticator {
  readonly id = 'password_based:http';
  private readonly service: HttpService;
  readonly cache: BoundedCache<AuthnOutcome> | undefined;

  constructor(
    opts: HttpAuthnOptions,
    private readonly logger: pino.Logger,
  ) {
    this.service = new HttpService(opts);
    this.cache = opts.cache.enable ? new BoundedCache(opts.cache.maxSize, opts.cache.ttl) : undefined;
  }

  async authenticate(req: AuthenticateRequest): Promise<AuthnOutcome> {
    const prepared = this.service.prepare(templateVars(req));
    const key = this.cache && `${prepared.url}\n${JSON.stringify(prepared.headers)}\n${prepared.body ?? ''}`;
    const hit = key === undefined ? undefined : this.cache!.get(key);
    if (hit) return hit;
    let outcome: AuthnOutcome;
    try {
      const a = parseAnswer(await this.service.send(prepared));
      if ('error' in a) {
        this.logger.warn({ clientid: req.clientId, url: this.service.url, reason: a.error }, 'HTTP authentication service gave no answer; ignored');
        return { result: 'ignore', reason: 'http_error' };
      }
      outcome =
        a.result === 'allow'
          ? { result: 'allow', isSuperuser: a.isSuperuser }
          : a.result === 'deny'
            ? { result: 'deny', reason: 'http_deny' }
            : { result: 'ignore', reason: 'http_ignore' };
    } catch (err) {
      this.logger.warn({ clientid: req.clientId, url: this.service.url, reason: (err as Error).message }, 'HTTP authentication service unreachable; ignored');
      return { result: 'ignore', reason: 'http_error' };
    }
    if (key !== undefined && outcome.result !== 'ignore') this.cache!.set(key, outcome);
    return outcome;
  }

  close(): void {
    this.service.close();
  }
}

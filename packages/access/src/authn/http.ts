/**
 * EMQX's `password_based:http`: asks a service, which answers `allow`, `deny` or `ignore`
 * (with `is_superuser`). A service that fails, times out or answers something else is taken
 * as `ignore` and logged, as EMQX does; the next authenticator decides. With `cache`, answers
 * are kept by the request they answered (the password included), bounded in size and time.
 * An `allow` may carry EMQX 5.8's `acl` (the client's own rules, client-acl.ts) and
 * `expire_at` (seconds since the epoch: the client is disconnected then); a malformed one
 * makes the answer count as none (ignore, logged).
 */
import type pino from 'pino';
import type { AuthenticateRequest } from '@vireo/broker';
import { BoundedCache } from '../bounded-cache.js';
import { HttpService, parseAnswer, type HttpServiceOptions } from '../http-request.js';
import { templateVars, type Authenticator, type AuthnAllow, type AuthnOutcome } from './authenticator.js';
import { AclError } from '../acl.js';
import { clientAcl } from './client-acl.js';

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
    if (hit) return expired(hit);
    let outcome: AuthnOutcome;
    try {
      const a = parseAnswer(await this.service.send(prepared));
      if ('error' in a) {
        this.logger.warn({ clientid: req.clientId, url: this.service.url, reason: a.error }, 'HTTP authentication service gave no answer; ignored');
        return { result: 'ignore', reason: 'http_error' };
      }
      if (a.result === 'allow') {
        const extra = allowExtras(a.raw);
        if (typeof extra === 'string') {
          this.logger.warn({ clientid: req.clientId, url: this.service.url, reason: extra }, 'HTTP authentication service gave no answer; ignored');
          return { result: 'ignore', reason: 'http_error' };
        }
        outcome = { result: 'allow', isSuperuser: a.isSuperuser, ...extra };
      } else outcome = a.result === 'deny' ? { result: 'deny', reason: 'http_deny' } : { result: 'ignore', reason: 'http_ignore' };
    } catch (err) {
      this.logger.warn({ clientid: req.clientId, url: this.service.url, reason: (err as Error).message }, 'HTTP authentication service unreachable; ignored');
      return { result: 'ignore', reason: 'http_error' };
    }
    if (key !== undefined && outcome.result !== 'ignore') this.cache!.set(key, outcome);
    return expired(outcome);
  }

  close(): void {
    this.service.close();
  }
}

/** `acl` and `expire_at` of an allow answer, or why they are not usable. */
function allowExtras(raw: Record<string, unknown>): Pick<AuthnAllow, 'acl' | 'expireAt'> | string {
  const out: Pick<AuthnAllow, 'acl' | 'expireAt'> = {};
  if (raw.expire_at !== undefined) {
    if (typeof raw.expire_at !== 'number' || !Number.isFinite(raw.expire_at) || raw.expire_at <= 0) return 'expire_at is not a time in seconds since the epoch';
    out.expireAt = raw.expire_at * 1000;
  }
  if (raw.acl !== undefined) {
    try {
      out.acl = clientAcl(raw.acl, 'acl');
    } catch (err) {
      if (err instanceof AclError) return err.message;
      throw err;
    }
  }
  return out;
}

/** An allow whose `expire_at` has passed (answered so, or kept in the cache since) is a deny. */
function expired(o: AuthnOutcome): AuthnOutcome {
  return o.result === 'allow' && o.expireAt !== undefined && o.expireAt <= Date.now() ? { result: 'deny', reason: 'expired' } : o;
}

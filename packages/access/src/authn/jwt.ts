/**
 * EMQX's `jwt` authenticator, on `jose`: HS256/384/512 with a secret, RS/ES/PS with a public
 * key, or the keys of a JWKS endpoint fetched at start and every `refresh_interval` in the
 * background (a failed fetch keeps the keys held). `exp` and `nbf` are checked, then
 * `verify_claims`; the `acl` claim becomes the client's own rules (client-acl.ts), and `exp`
 * the time the client is disconnected (`disconnect_after_expire`). A CONNECT without a token,
 * or with something that is not a JWT, is passed on; a JWT that fails is denied.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type pino from 'pino';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthenticateRequest } from '@vireo/broker';
import { AclError } from '../acl.js';
import { clientAcl } from './client-acl.js';
import { render } from '../http-request.js';
import type { Authenticator, AuthnAllow, AuthnOutcome } from './authenticator.js';

export type JwtKey = { kind: 'secret'; secret: string; base64: boolean } | { kind: 'public_key'; pem: string } | { kind: 'jwks'; endpoint: string; refreshInterval: number };

export interface JwtOptions {
  from: 'password' | 'username';
  key: JwtKey;
  verifyClaims: Readonly<Record<string, string>>;
  aclClaimName: string;
  /** EMQX's `disconnect_after_expire` (default true): a client whose token's `exp` passes is disconnected. */
  disconnectAfterExpire?: boolean;
}

const HMAC = ['HS256', 'HS384', 'HS512'];
const PUBLIC = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA'];
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export class JwtAuthenticator implements Authenticator {
  readonly id = 'jwt';
  private key: Uint8Array | KeyObject | JWTVerifyGetKey | undefined;
  private readonly algorithms: string[];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly opts: JwtOptions,
    private readonly logger: pino.Logger,
  ) {
    const k = opts.key;
    this.algorithms = k.kind === 'secret' ? HMAC : PUBLIC;
    if (k.kind === 'secret') this.key = k.base64 ? Buffer.from(k.secret, 'base64') : Buffer.from(k.secret);
    else if (k.kind === 'public_key') this.key = createPublicKey(k.pem.includes('-----BEGIN') ? k.pem : readFileSync(k.pem, 'utf8'));
  }

  /** With JWKS: the first fetch (start waits for it, failing or not), then one per interval. */
  async start(): Promise<void> {
    const k = this.opts.key;
    if (k.kind !== 'jwks') return;
    await this.refresh(k.endpoint);
    const again = () => {
      if (this.closed) return;
      this.timer = setTimeout(() => void this.refresh(k.endpoint).finally(again), k.refreshInterval);
      this.timer.unref();
    };
    again();
  }

  private async refresh(endpoint: string): Promise<void> {
    try {
      const res = await fetch(endpoint, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`status ${res.status}`);
      const set = (await res.json()) as JSONWebKeySet;
      if (!Array.isArray(set?.keys)) throw new Error('no "keys" list');
      this.key = createLocalJWKSet(set);
      this.logger.debug({ endpoint, keys: set.keys.length }, 'JWKS fetched');
    } catch (err) {
      this.logger.warn({ endpoint, reason: (err as Error).message, keeping: this.key !== undefined }, 'JWKS fetch failed');
    }
  }

  async authenticate(req: AuthenticateRequest): Promise<AuthnOutcome> {
    const token = this.opts.from === 'password' ? req.password?.toString('utf8') : req.username;
    if (!token || !JWS.test(token)) return { result: 'ignore', reason: 'no_jwt' };
    const key = this.key;
    if (key === undefined) return { result: 'ignore', reason: 'no_jwks' };
    let payload: JWTPayload;
    try {
      // jose checks exp and nbf (when present) and that the alg fits the key
      payload = (typeof key === 'function' ? await jwtVerify(token, key, { algorithms: this.algorithms }) : await jwtVerify(token, key, { algorithms: this.algorithms })).payload;
    } catch (err) {
      const reason = err instanceof joseErrors.JWTExpired ? 'expired' : err instanceof joseErrors.JWTClaimValidationFailed ? `claim ${err.claim}` : 'invalid_signature';
      return { result: 'deny', reason };
    }
    const vars = { clientid: req.clientId, username: req.username };
    for (const [claim, want] of Object.entries(this.opts.verifyClaims)) {
      const got = payload[claim];
      if (got === undefined || String(got) !== render(want, vars)) return { result: 'deny', reason: `claim ${claim}` };
    }
    const allow: AuthnAllow = { result: 'allow', isSuperuser: payload.is_superuser === true };
    if (typeof payload.exp === 'number' && this.opts.disconnectAfterExpire !== false) allow.expireAt = payload.exp * 1000;
    const raw = payload[this.opts.aclClaimName];
    if (raw === undefined) return allow;
    try {
      allow.acl = clientAcl(raw, `${this.opts.aclClaimName} claim`);
    } catch (err) {
      if (err instanceof AclError) return { result: 'deny', reason: err.message };
      throw err;
    }
    return allow;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

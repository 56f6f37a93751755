/**
 * The HTTP API's gate for every request that needs credentials: the address's failure
 * throttle first (auth-throttle.ts), then the API key, then its role (roles.ts). Failures
 * are logged with the client's address, never with what was sent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ApiKeyIdentity, ApiKeys } from './api-keys.js';
import { AuthThrottle } from './auth-throttle.js';
import { allowed, forbidden } from './roles.js';

/** Answers the request (401, 403 or 429) and returns false, or returns the caller's identity. */
export type ApiGate = (req: FastifyRequest, reply: FastifyReply) => Promise<ApiKeyIdentity | false>;

export function apiKeyGate(keys: ApiKeys, log: Logger, throttle = new AuthThrottle()): ApiGate {
  return async (req, reply) => {
    const peerhost = req.ip;
    const wait = throttle.retryAfter(peerhost);
    if (wait > 0) {
      await reply
        .code(429)
        .header('retry-after', String(wait))
        .send({ code: 'TOO_MANY_REQUESTS', message: `too many failed authentications from this address; retry in ${wait} s` });
      return false;
    }
    const id = keys.authenticate(req.headers.authorization);
    if (!id) {
      const over = throttle.failed(peerhost);
      log.warn({ peerhost, method: req.method, url: req.url.split('?')[0] }, 'HTTP API authentication failed');
      if (over) {
        log.warn(
          { peerhost, failures: throttle.limit, window_s: throttle.windowMs / 1000 },
          'HTTP API authentication failures throttled: this address gets 429 until its window ends',
        );
      }
      // no hint about which part was wrong
      await reply.code(401).header('www-authenticate', 'Basic realm="vireo"').send({ code: 'BAD_API_KEY_OR_SECRET', message: 'Check api_key/api_secret' });
      return false;
    }
    const route = req.routeOptions.url ?? req.url.split('?')[0] ?? '';
    if (!allowed(id.role, { method: req.method, route, params: req.params as Record<string, string>, actor: id.key })) {
      log.info({ peerhost, api_key: id.key, role: id.role, method: req.method, route }, 'HTTP API request refused by the role');
      await reply.code(403).send(forbidden(id.role));
      return false;
    }
    return id;
  };
}

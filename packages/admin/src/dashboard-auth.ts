/**
 * Requests signed in as a dashboard user (`Authorization: Bearer <token>` from `/login`):
 * the token must be live and its user's role must allow the request (roles.ts). A refused
 * token is answered without `WWW-Authenticate: Basic`, so a browser shows the page's own
 * sign-in, not its password dialog.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DashboardUsers } from './dashboard-users.js';
import { allowed, forbidden } from './roles.js';

/** Paths served without credentials: the page and its files, and the sign-in itself. */
export function isDashboardPublic(method: string, path: string): boolean {
  if (method === 'POST') return path === '/api/v5/login';
  if (method !== 'GET' && method !== 'HEAD') return false;
  return path === '/' || path === '/index.html' || path === '/favicon.svg' || path.startsWith('/assets/');
}

/** Checks a Bearer request; answers 401/403 itself when refused. */
export function bearerAuth(users: DashboardUsers, req: FastifyRequest, reply: FastifyReply, path: string): FastifyReply | undefined {
  const who = users.verify(req.headers.authorization);
  if (!who)
    return reply.code(401).header('www-authenticate', 'Bearer realm="vireo"').send({ code: 'TOKEN_TIME_OUT', message: 'The token is unknown or has expired: sign in again' });
  const route = req.routeOptions.url ?? path;
  if (!allowed(who.role, { method: req.method, route, params: req.params as Record<string, string>, actor: who.username })) return reply.code(403).send(forbidden(who.role));
  return undefined;
}

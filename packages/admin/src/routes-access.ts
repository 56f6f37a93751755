/** Wires the access-control endpoints (users, bans, ACL, API keys, log level) and their metrics. */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { AccessControl } from '@vireo/access';
import type { Broker } from '@vireo/broker';
import type { ApiKeys } from './api-keys.js';
import { registerAccessMetrics } from './metrics-access.js';
import { apiKeyRoutes } from './routes-api-keys.js';
import { authzRoutes } from './routes-authz.js';
import { bannedRoutes } from './routes-banned.js';
import { logRoutes, type LogLevelControl } from './routes-log.js';
import { userRoutes } from './routes-users.js';
import type { ClusterQuery } from './cluster-query.js';

export function accessRoutes(
  app: FastifyInstance,
  registry: Registry,
  opts: { apiKeys: ApiKeys; access?: AccessControl; logLevel?: LogLevelControl },
  q: ClusterQuery,
  broker: Broker,
): void {
  apiKeyRoutes(app, opts.apiKeys, q, broker);
  if (opts.logLevel) logRoutes(app, opts.logLevel);
  const access = opts.access;
  if (!access) return;
  userRoutes(app, access, q, broker);
  bannedRoutes(app, access, q, broker);
  authzRoutes(app, access, q, broker);
  registerAccessMetrics(registry, access);
}

/**
 * The HTTP API of one node (EMQX v5 shape, port 18083): clients, subscriptions, publish,
 * node facts, Prometheus metrics, probes, and an OpenAPI document generated from the route
 * schemas. Built on Fastify: its JSON schemas validate requests (precise 400s) and feed the
 * OpenAPI document, so the two cannot disagree.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { Broker } from '@vireo/broker';
import { ApiKeys } from './api-keys.js';
import { createMetrics, type MetricsOptions } from './metrics.js';
import { clientRoutes } from './routes-clients.js';
import { bridgeOps, bridgeRoutes, type BridgeSource } from './routes-bridges.js';
import { retainerOps, retainerRoutes } from './routes-retainer.js';
import { syncTable, tableOps, type SyncedTable } from './record-sync.js';
import { apiKeysTable, bansTable, usersTable } from './synced-tables.js';
import { nodeRoutes } from './routes-node.js';
import { publishRoutes } from './routes-publish.js';
import { subscriptionRoutes } from './routes-subscriptions.js';
import { traceRoutes } from './routes-trace.js';
import { clusterRoutes, type ClusterMembership } from './routes-cluster.js';
import type { AccessControl } from '@vireo/access';
import { accessRoutes } from './routes-access.js';
import type { LogLevelControl } from './routes-log.js';
import { adminOps } from './admin-ops.js';
import { ClusterQuery, markPartial } from './cluster-query.js';
import { PROMETHEUS_MODES, scrape, type PrometheusMode } from './cluster-metrics.js';
import { syncTraces } from './trace-sync.js';
import { apiKeyGate } from './api-auth.js';
import { tableOpSchemas } from './op-schemas.js';
import { dashboardParts, type DashboardOptions } from './dashboard-setup.js';
import { bearerAuth, isDashboardPublic } from './dashboard-auth.js';
import { AVAILABILITY_PATH, LOAD_REBALANCE_OP_SCHEMAS, loadRebalanceOps, loadRebalanceRoutes, registerLoadRebalanceMetrics } from './routes-load-rebalance.js';
import type { LoadRebalance } from '@vireo/rebalance';
import { alarmOps, alarmRoutes } from './routes-alarms.js';
import { registerSysmonMetrics } from './metrics-sysmon.js';
import { registerGuardMetrics } from './metrics-guard.js';
import type { Sysmon } from './sysmon.js';
import { rulesTable, type RulesApi } from './rules-table.js';
import { ruleOps, ruleRoutes } from './routes-rules.js';
import { connectorOps, connectorRoutes } from './routes-connectors.js';
import { registerRuleMetrics } from './metrics-rules.js';
import { authzOps } from './routes-authz.js';
import { rebalanceRoutes, type RebalanceApi } from './routes-rebalance.js';
import { registerRebalanceMetrics, type RebalanceMetricsSource } from './metrics-rebalance.js';
import { integrationRoutes, integrationsTable } from './routes-integrations.js';
import { configRoutes, configsTable, type RuntimeConfigs } from './routes-configs.js';

export interface AdminOptions {
  host: string;
  port: number;
  apiKeys: ApiKeys;
  /** Require an API key for `/api/v5/prometheus/stats` and `/metrics` (EMQX `prometheus.enable_basic_auth`). */
  prometheusAuth: boolean;
  /** false: open no HTTP port (the API is served only through `app.routing`, e.g. by the HTTPS listener). */
  listen?: boolean;
  /** Readiness: the node is ready to serve (listeners up, cluster joined). Defaults to true. */
  ready?: () => boolean;
  /** Cluster membership (`/api/v5/cluster…`); absent when clustering is off. */
  membership?: ClusterMembership;
  /** Users, bans and ACL (routes and metrics); absent: those endpoints are not served. */
  access?: AccessControl;
  /** The running node's log level (`/api/v5/log/level`). */
  logLevel?: LogLevelControl;
  /** The node's MQTT bridges (`/api/v5/bridges`, `vireo_bridge_*`). */
  bridges?: () => readonly BridgeSource[];
  /** `prometheus.enable`, webhooks to count, latency sampling (metrics.ts). */
  metrics?: MetricsOptions;
  /** Dashboard users and tokens, time-series sampling, the page's files (dashboard-setup.ts). */
  dashboard?: DashboardOptions;
  /** The node is evacuating or rebalancing away (availability_check answers 503). */
  givingLoadAway?: () => boolean;
  /** Evacuation and rebalancing of this node (`/api/v5/load_rebalance/…`, `vireo_evacuation_*`). */
  loadRebalance?: LoadRebalance;
  /** The node's alarms and event-loop utilization (`/api/v5/alarms`, `vireo_alarms`). */
  sysmon?: Sysmon;
  /** The node's rule engine, actions and connectors (`/api/v5/rules`, `/actions`, `/connectors`, `vireo_rule_*`). */
  rules?: RulesApi;
  /** Rebalancing (@vireo/rebalance): its admin operations with their schemas, and the start fields (routes-rebalance.ts). */
  rebalance?: RebalanceApi & {
    ops: Record<string, (a: Record<string, unknown>) => unknown>;
    schemas: Record<string, Record<string, unknown>>;
    metrics: RebalanceMetricsSource;
  };
  /** Limits changed while the node runs (`/api/v5/configs/…`, `PUT /api/v5/listeners/{id}`, routes-configs.ts). */
  configs?: RuntimeConfigs;
}

export interface AdminServer {
  readonly app: FastifyInstance;
  address(): { host: string; port: number };
  close(): Promise<void>;
}

/** Paths served without credentials: probes, the API description, and (by default) metrics. */
const PUBLIC = new Set(['/status', '/api/v5/status', AVAILABILITY_PATH, '/api-docs', '/api-docs/openapi.json']);
const PROMETHEUS = new Set(['/api/v5/prometheus/stats', '/metrics']);

export async function startAdmin(broker: Broker, opts: AdminOptions): Promise<AdminServer> {
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { coerceTypes: true, useDefaults: true, removeAdditional: false, allErrors: true } },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Vireo HTTP API', version: 'v5' },
      components: { securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } } },
      security: [{ basicAuth: [] }],
    },
  });

  const gate = apiKeyGate(opts.apiKeys, broker.logger);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0];
    if (PUBLIC.has(path) || isDashboardPublic(req.method, path)) return;
    if (PROMETHEUS.has(path) && !opts.prometheusAuth) return;
    if (req.headers.authorization?.startsWith('Bearer ')) return bearerAuth(dash.users, req, reply, path);
    await gate(req, reply);
  });
  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, req, reply) => {
    if (err.validation) return reply.code(400).send({ code: 'BAD_REQUEST', message: err.message });
    broker.logger.error({ err, method: req.method, url: req.url }, 'HTTP API request failed');
    return reply.code(err.statusCode && err.statusCode < 500 ? err.statusCode : 500).send({ code: 'INTERNAL_ERROR', message: 'internal error' });
  });

  const bridges = opts.bridges ?? (() => []);
  const registry = createMetrics(broker, { ...opts.metrics, bridges });
  const dash = dashboardParts(broker, opts.dashboard);
  if (opts.sysmon) registerSysmonMetrics(registry, opts.sysmon);
  registerGuardMetrics(registry, broker);
  if (opts.rules) registerRuleMetrics(registry, opts.rules);
  if (opts.loadRebalance) registerLoadRebalanceMetrics(registry, opts.loadRebalance);
  if (opts.rebalance) registerRebalanceMetrics(registry, opts.rebalance.metrics);
  const ruleTable = opts.rules && rulesTable(opts.rules);
  const integrations = opts.rules?.integrations && integrationsTable(opts.rules.integrations);
  const configs = opts.configs && configsTable(broker, opts.configs);
  // this node's part of cluster-wide answers, for its own API and for its peers' (admin-ops.ts)
  // tables every node keeps the same (record-sync.ts)
  const tables: SyncedTable<unknown>[] = [
    apiKeysTable(opts.apiKeys),
    ...(opts.access ? [bansTable(opts.access), usersTable(opts.access)] : []),
    ...dash.tables,
    ...(ruleTable ? [ruleTable as SyncedTable<unknown>] : []),
    ...(integrations ? [integrations as SyncedTable<unknown>] : []),
    ...(configs ? [configs as SyncedTable<unknown>] : []),
  ];
  const ops = adminOps(
    broker,
    registry,
    Object.assign(
      {
        ...bridgeOps(bridges),
        ...retainerOps(broker),
        ...dash.ops,
        ...alarmOps(opts.sysmon?.alarms),
        ...(opts.rules ? { ...ruleOps(opts.rules), ...connectorOps(opts.rules) } : {}),
        ...(opts.loadRebalance ? loadRebalanceOps(opts.loadRebalance) : {}),
        ...(opts.access ? authzOps(opts.access) : {}),
        ...opts.rebalance?.ops,
      },
      ...tables.map((t) => tableOps(t)),
    ),
    // the tables' put/delete arguments are checked like every other op's (op-schemas.ts)
    Object.assign({}, LOAD_REBALANCE_OP_SCHEMAS, ...tables.map((t) => tableOpSchemas(t.name)), opts.rebalance?.schemas),
  );
  broker.cluster.serveAdmin?.(ops);
  const q = new ClusterQuery(broker, ops);

  clientRoutes(app, q);
  subscriptionRoutes(app, q);
  publishRoutes(app, broker);
  nodeRoutes(app, broker, q, opts.ready ?? (() => true), () => opts.membership?.status().members.filter((m) => m.status !== 'running') ?? []);
  traceRoutes(app, q);
  bridgeRoutes(app, q);
  retainerRoutes(app, broker, q);
  alarmRoutes(app, q);
  clusterRoutes(app, broker, opts.membership);
  loadRebalanceRoutes(app, { ready: opts.ready ?? (() => true), givingLoadAway: opts.givingLoadAway, control: opts.loadRebalance, q, rebalances: opts.rebalance !== undefined });
  if (opts.rebalance) rebalanceRoutes(app, q, opts.rebalance);
  accessRoutes(app, registry, opts, q, broker);
  dash.routes(app, q);
  if (opts.rules && ruleTable) {
    ruleRoutes(app, broker, q, opts.rules, ruleTable);
    connectorRoutes(app, q);
    if (opts.rules.integrations && integrations) integrationRoutes(app, broker, q, opts.rules.integrations, integrations);
  }
  if (opts.configs && configs) configRoutes(app, broker, q, opts.configs, configs);
  const stopTableSync = tables.map((t) => syncTable(broker, q, t));
  const stopTraceSync = syncTraces(broker, q);

  const prometheus = async (req: import('fastify').FastifyRequest<{ Querystring: { mode?: PrometheusMode } }>, reply: import('fastify').FastifyReply) => {
    if (opts.metrics?.enable === false) return reply.code(404).send({ code: 'NOT_FOUND', message: 'Prometheus metrics are off on this node (prometheus.enable: false)' });
    const r = await scrape(q, registry, req.query.mode ?? 'node');
    markPartial(reply, r.errors);
    return reply.type(registry.contentType).send(r.text);
  };
  const modeQuery = {
    type: 'object',
    properties: { mode: { type: 'string', enum: PROMETHEUS_MODES, description: 'node (default), all_nodes_aggregated or all_nodes_unaggregated, as EMQX' } },
  } as const;
  app.get(
    '/api/v5/prometheus/stats',
    { schema: { summary: 'Prometheus metrics (text format): this node, or every node aggregated or not', tags: ['metrics'], querystring: modeQuery } },
    prometheus,
  );
  app.get('/metrics', { schema: { hide: true, querystring: modeQuery } }, prometheus);
  app.get('/api-docs', { schema: { hide: true } }, async () => app.swagger());

  if (opts.listen === false) await app.ready();
  else await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = addr && typeof addr === 'object' ? addr.port : opts.port;
  if (opts.apiKeys.size === 0) {
    broker.logger.warn('The HTTP API has no API key: every /api/v5 request is refused. Add `key:secret` lines to api_key.bootstrap_file.');
  }
  return {
    app,
    address: () => ({ host: opts.host, port }),
    close: () => {
      stopTraceSync();
      dash.close();
      for (const stop of stopTableSync) stop();
      return app.close();
    },
  };
}

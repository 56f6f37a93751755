export { startAdmin } from './admin-server.js';
export type { AdminOptions, AdminServer } from './admin-server.js';
export { ApiKeys } from './api-keys.js';
export { createMetrics } from './metrics.js';
export type { MetricsOptions, WebhookMetricsSource } from './metrics.js';
export type { BridgeSource, BridgeView } from './routes-bridges.js';
export type { ApiKeyRecord } from './api-keys.js';
export type { LogLevelControl } from './routes-log.js';
export type { ClusterMembership, ClusterStatusView } from './routes-cluster.js';

/**
 * Everything the web dashboard adds to the HTTP API, in one place for admin-server.ts: its
 * users and tokens (synced tables), the node's time series (monitor.ts, kept in the store), reading trace
 * files, and the page's files.
 */
import type { FastifyInstance } from 'fastify';
import type { Broker, RecordTable } from '@vireo/broker';
import type { ClusterQuery } from './cluster-query.js';
import type { SyncedTable } from './record-sync.js';
import { DashboardUsers } from './dashboard-users.js';
import { dashboardTokensTable, dashboardUsersTable } from './dashboard-tables.js';
import { dashboardUserRoutes } from './routes-dashboard-users.js';
import { Monitor } from './monitor.js';
import { monitorOps, monitorRoutes } from './routes-monitor.js';
import { traceDownloadRoutes, traceReadOps } from './routes-trace-download.js';
import { dashboardAssetRoutes } from './dashboard-assets.js';

export interface DashboardOptions {
  /** Dashboard users and tokens; default: none (nobody can sign in, API keys still work). */
  users?: DashboardUsers;
  /** `dashboard.sample_interval`, ms; default 10 s. */
  sampleIntervalMs?: number;
  /** The built page (packages/dashboard); absent: `/` says it is not built. */
  assetsDir?: string;
  /** Where the time series is kept across a restart; absent: in memory only. */
  samples?: RecordTable;
}

export interface DashboardParts {
  users: DashboardUsers;
  tables: SyncedTable<unknown>[];
  ops: Record<string, (a: Record<string, unknown>) => unknown>;
  routes(app: FastifyInstance, q: ClusterQuery): void;
  close(): void;
}

export function dashboardParts(broker: Broker, opts: DashboardOptions = {}): DashboardParts {
  const users = opts.users ?? new DashboardUsers(3600_000);
  const monitor = new Monitor(broker, opts.sampleIntervalMs ?? 10_000, opts.samples);
  monitor.start();
  const sweep = setInterval(() => users.sweep(), 60_000).unref();
  return {
    users,
    tables: [dashboardUsersTable(users), dashboardTokensTable(users)] as SyncedTable<unknown>[],
    ops: { ...monitorOps(monitor), ...traceReadOps(broker) },
    routes(app, q) {
      dashboardUserRoutes(app, users, q, broker);
      monitorRoutes(app, q);
      traceDownloadRoutes(app, q, broker);
      if (!dashboardAssetRoutes(app, opts.assetsDir)) broker.logger.warn({ dir: opts.assetsDir }, 'The dashboard page is not built: `/` answers 503 (the HTTP API works)');
    },
    close() {
      clearInterval(sweep);
      monitor.stop();
    },
  };
}

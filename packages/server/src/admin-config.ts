/**
 * Starts the HTTP API (`dashboard.listeners.http.bind`) with the API keys of
 * `api_key.bootstrap_file`; failures name the key, like every other start-up error.
 */
import type { Logger } from 'pino';
import { ApiKeys, startAdmin, type AdminOptions, type AdminServer, type BridgeSource, type RulesApi, type Sysmon, type WebhookMetricsSource } from '@vireo/admin';
import type { AccessControl } from '@vireo/access';
import type { Broker, RecordTables } from '@vireo/broker';
import type { LoadRebalance } from '@vireo/rebalance';
import { PINO_LEVEL } from './logger.js';
import { ConfigError } from './config-error.js';
import { membershipOf } from './cluster-config.js';
import { httpsEnabled, httpsFiles, startHttpsApi } from './https-api.js';
import { dashboardFor } from './dashboard-config.js';
import type { VireoConfig } from './config-schema.js';

export class AdminListenError extends Error {}

/** What the API serves besides the broker: users, bans and ACL, API keys' table, webhooks' counters. */
export interface AdminExtras {
  access?: AccessControl;
  /** Where API keys made through the API are kept. */
  tables?: RecordTables;
  /** The node's webhooks (started after the API), for their counters in the metrics. */
  webhooks?: () => readonly WebhookMetricsSource[];
  /** The node's MQTT bridges (started after the API), for `/api/v5/bridges` and their metrics. */
  bridges?: () => readonly BridgeSource[];
  /** The node's alarms and event-loop utilization. */
  sysmon?: Sysmon;
  /** The rule engine with its actions and connectors (`/api/v5/rules`, …). */
  rules?: RulesApi;
  /** Evacuation and rebalancing (`/api/v5/load_rebalance/…`, availability_check). */
  loadRebalance?: LoadRebalance;
  /** Rebalancing's operations, start fields and metrics (rebalance-wiring.ts). */
  rebalancing?: AdminOptions['rebalance'];
  /** Limits the API changes while the node runs (runtime-config.ts). */
  configs?: AdminOptions['configs'];
}

export async function startAdminFor(config: VireoConfig, broker: Broker, logger: Logger, extras?: AdminExtras): Promise<AdminServer | undefined> {
  const bind = config.dashboard.listeners.http.bind;
  const tls = httpsEnabled(config) ? httpsFiles(config) : undefined;
  if (bind.port === 0 && !tls) return undefined;
  let keys = new ApiKeys();
  const file = config.api_key.bootstrap_file;
  if (file !== undefined) {
    try {
      keys = ApiKeys.fromFile(file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new ConfigError([{ path: 'api_key.bootstrap_file', message: e.code ? `cannot read ${file} (${e.code})` : e.message }]);
    }
  }
  if (extras?.tables) keys.useTable(extras.tables.table('api_keys'));
  let level: string = config.log.level;
  const logLevel = {
    levels: Object.keys(PINO_LEVEL),
    get: () => level,
    set: (l: string) => {
      const next = PINO_LEVEL[l as keyof typeof PINO_LEVEL];
      const line = { level: l, previous: level };
      // logged at a level that shows before and after the change
      if (logger.levels.values[next] > logger.levelVal) {
        logger[logger.level as 'info'](line, 'Log level changed');
        logger.level = next;
      } else {
        logger.level = next;
        logger.info(line, 'Log level changed');
      }
      level = l;
    },
  };
  try {
    const admin = await startAdmin(broker, {
      host: bind.host,
      port: bind.port,
      // HTTPS only: no plain port at all
      listen: bind.port !== 0,
      apiKeys: keys,
      prometheusAuth: config.prometheus.enable_basic_auth,
      metrics: { enable: config.prometheus.enable, webhooks: extras?.webhooks },
      bridges: extras?.bridges,
      access: extras?.access,
      sysmon: extras?.sysmon,
      rules: extras?.rules,
      loadRebalance: extras?.loadRebalance,
      rebalance: extras?.rebalancing,
      configs: extras?.configs,
      givingLoadAway: extras?.loadRebalance && (() => extras.loadRebalance!.givingLoadAway),
      logLevel,
      dashboard: await dashboardFor(config, extras?.tables, logger),
      // ready once the MQTT listeners are up (they open last) and the node has joined its cluster
      membership: membershipOf(broker.cluster),
      ready: () => broker.listening && (membershipOf(broker.cluster)?.ready() ?? true),
    });
    if (bind.port !== 0) logger.info({ bind: `${bind.host}:${admin.address().port}`, api_keys: keys.size }, 'HTTP API listening');
    if (!tls) return admin;
    let closeHttps: () => Promise<void>;
    try {
      closeHttps = await startHttpsApi(config, tls, admin, logger);
    } catch (err) {
      await admin.close();
      throw err instanceof ConfigError ? err : new AdminListenError((err as Error).message);
    }
    return { ...admin, address: () => admin.address(), close: async () => void (await Promise.all([closeHttps(), admin.close()])) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new AdminListenError(
        `dashboard.listeners.http.bind: port ${bind.port} on ${bind.host} ${code === 'EADDRINUSE' ? 'is already in use' : 'needs privileges to bind'} (${code})`,
      );
    }
    throw err;
  }
}

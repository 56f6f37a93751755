/**
 * `vireo start`: load the configuration, start the broker in the foreground, and stop
 * it cleanly on SIGTERM/SIGINT (what Kubernetes and Ctrl-C send).
 *
 * Exit codes: 0 after a clean stop, 1 when the node cannot start (e.g. a port in use)
 * or a stop does not finish in time, 2 when the configuration is invalid.
 */
import path from 'node:path';
import { createBroker, ListenError, warmUp, type Broker } from '@vireo/broker';
import type { Logger } from 'pino';
import type { AdminServer } from '@vireo/admin';
import { AdminListenError, startAdminFor } from './admin-config.js';
import { startSysmonFor } from './sysmon-config.js';
import { startGuardFor } from './guard-config.js';
import { runtimeConfigs } from './runtime-config.js';
import type { Webhook } from '@vireo/bridge';
import { startWebhookFor } from './webhook-config.js';
import { startRulesFor, type RulesRuntime } from './rules-config.js';
import { membershipOf, startClusterFor } from './cluster-config.js';
import { ConfigError, loadConfig, toBrokerConfig, type LoadedConfig } from './config.js';
import { formatIssue } from './config-validate.js';
import { weakCookie } from './cookie.js';
import { formatBind } from './config-values.js';
import { openStoreFor } from './store-config.js';
import { accessControlFor, openTablesFor } from './access-config.js';
import { keepTraces, type RecordTables } from '@vireo/broker';
import type { AccessControl } from '@vireo/access';
import { startBridgesFor } from './bridge-config.js';
import type { MqttBridge } from '@vireo/bridge';
import { createLogger } from './logger.js';
import { VERSION } from './version.js';
import { EvacuationFile, LoadRebalance, type EvacuationOptions } from '@vireo/rebalance';
import { shutdownEvacuation } from './rebalance-config.js';
import { rebalanceFor } from './rebalance-wiring.js';

export const EXIT_START_FAILED = 1;
export const EXIT_BAD_CONFIG = 2;
/** How long a stop may take before the process exits anyway. */
export const STOP_TIMEOUT_MS = 5000;

export interface StartOptions {
  config: string | undefined;
  force: boolean;
}

function fail(code: number, lines: string[]): never {
  for (const line of lines) process.stderr.write(`${line}\n`);
  process.exit(code);
}

function load(options: StartOptions): LoadedConfig {
  try {
    return loadConfig({ file: options.config, force: options.force });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    failConfig(err);
  }
}

/** Every configuration problem, one per line, then exit 2. */
function failConfig(err: ConfigError): never {
  const n = err.issues.length;
  fail(EXIT_BAD_CONFIG, [`vireo: invalid configuration (${n} error${n === 1 ? '' : 's'}):`, ...err.issues.map((i) => `  ${formatIssue(i)}`)]);
}

interface Evacuate {
  rebalance: LoadRebalance;
  /** `node.evacuate_on_shutdown`: what SIGTERM runs before the stop; undefined: off. */
  onShutdown: EvacuationOptions | undefined;
}

function stopOnSignals(
  broker: Broker,
  logger: Logger,
  admin: AdminServer | undefined,
  webhook: Webhook | undefined,
  bridges: MqttBridge[],
  rules: RulesRuntime | undefined,
  evacuate: Evacuate,
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second Ctrl-C means "now".
      logger.warn({ signal }, 'second signal while stopping, exiting now');
      process.exit(EXIT_START_FAILED);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    // SIGTERM (a scale-in, a rolling restart) evacuates first when configured; Ctrl-C stops at once
    if (signal === 'SIGTERM' && evacuate.onShutdown) {
      logger.info({ evacuation: evacuate.onShutdown }, 'Evacuating before stopping (node.evacuate_on_shutdown)');
      evacuate.rebalance.evacuateForShutdown(evacuate.onShutdown).then(
        () => stopNow(),
        (err: unknown) => {
          logger.error({ err }, 'Evacuation on shutdown failed, stopping anyway');
          stopNow();
        },
      );
    } else stopNow();
  };
  const stopNow = () => {
    setTimeout(() => {
      logger.error({ timeoutMs: STOP_TIMEOUT_MS }, 'stop did not finish in time, exiting anyway');
      process.exit(EXIT_START_FAILED);
    }, STOP_TIMEOUT_MS);
    webhook?.close();
    const bridgesClosed = Promise.all(bridges.map((b) => b.close()));
    Promise.all([admin?.close(), bridgesClosed, rules?.close(), broker.close()]).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(EXIT_START_FAILED);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Synthetic traffic through the hot path before listening (broker's node/warm-up.ts); never stops a start. */
async function warmUpFor(logger: Logger): Promise<void> {
  try {
    const w = await warmUp();
    logger.debug({ delivered: w.delivered, ms: w.ms }, 'Hot path warmed up');
  } catch (err) {
    logger.debug({ err }, 'Hot path warm-up skipped');
  }
}

export async function start(options: StartOptions): Promise<void> {
  const { config, file, warnings } = load(options);
  const logger = createLogger({ node: config.node.name, level: config.log.level, format: config.log.format });
  for (const w of warnings) logger.warn(`ignored: ${formatIssue(w)} (--force)`);
  const weak = config.node.cookie === '' ? undefined : weakCookie(config.node.cookie);
  if (weak) failConfig(new ConfigError([{ path: 'node.cookie', message: weak }]));

  let brokerConfig;
  try {
    brokerConfig = toBrokerConfig(config, logger);
  } catch (err) {
    // e.g. a TLS listener whose certificate file can't be read
    if (!(err instanceof ConfigError)) throw err;
    failConfig(err);
  }
  try {
    brokerConfig.store = openStoreFor(config, logger, options.force);
  } catch (err) {
    // a data dir of another node, or a store that cannot be read: named in the message
    fail(EXIT_START_FAILED, [`vireo: ${err instanceof Error ? err.message : String(err)}`]);
  }
  // users, bans and API keys live in the same store; the hooks check them on CONNECT (and the ACL on PUBLISH/SUBSCRIBE)
  let tables: RecordTables;
  let access: AccessControl;
  try {
    tables = openTablesFor(config);
    access = await accessControlFor(config, tables, logger);
  } catch (err) {
    if (err instanceof ConfigError) failConfig(err);
    fail(EXIT_START_FAILED, [`vireo: ${err instanceof Error ? err.message : String(err)}`]);
  }
  brokerConfig.hooks = { ...brokerConfig.hooks, ...access.hooks() };
  try {
    const cluster = await startClusterFor(config, logger, brokerConfig.mqtt?.sharedSubscriptionStrategy ?? 'round_robin');
    if (cluster) brokerConfig.cluster = cluster;
  } catch (err) {
    if (err instanceof ConfigError) failConfig(err);
    fail(EXIT_START_FAILED, [`vireo: ${err instanceof Error ? err.message : String(err)}`]);
  }
  let broker: Broker;
  try {
    // the MQTT listeners open last (below), when everything else is up
    broker = await createBroker({ ...brokerConfig, listen: false });
  } catch (err) {
    if (err instanceof ListenError) fail(EXIT_START_FAILED, [`vireo: ${err.message}`]);
    fail(EXIT_START_FAILED, [`vireo: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`]);
  }
  access.attach(broker);
  keepTraces(broker, tables.table('traces'));
  let admin: AdminServer | undefined;
  let webhook: Webhook | undefined;
  let bridges: MqttBridge[] = [];
  let rules: RulesRuntime | undefined;
  // evacuation and rebalancing (docs/evacuation.md): the API drives it, and SIGTERM when configured
  const evacuationFile = new EvacuationFile(path.join(config.node.data_dir, 'evacuation.json'));
  const rebalance = new LoadRebalance(broker, evacuationFile);
  const rebalancing = rebalanceFor(config, broker, rebalance.load, logger, () => membershipOf(broker.cluster)?.ready() ?? true);
  try {
    const sysmon = startSysmonFor(config, broker);
    const overload = startGuardFor(config, broker, sysmon.alarms);
    // before the API: it serves the rules and keeps those made through it the same on every node
    rules = startRulesFor(config, broker, logger, tables);
    admin = await startAdminFor(config, broker, logger, {
      access,
      tables,
      sysmon,
      webhooks: () => (webhook ? [webhook] : []),
      bridges: () => bridges,
      rules,
      loadRebalance: rebalance,
      rebalancing: rebalancing.admin,
      configs: runtimeConfigs({ config, broker, access, overload }),
    });
  } catch (err) {
    await Promise.all([rules?.close(), broker.close()]);
    if (err instanceof ConfigError) failConfig(err);
    if (err instanceof AdminListenError) fail(EXIT_START_FAILED, [`vireo: ${err.message}`]);
    throw err;
  }
  try {
    webhook = startWebhookFor(config, broker, logger);
    bridges = startBridgesFor(config, broker, logger);
    stopOnSignals(broker, logger, admin, webhook, bridges, rules, { rebalance, onShutdown: shutdownEvacuation(config) });
  } catch (err) {
    await Promise.all([admin?.close(), rules?.close(), broker.close()]);
    if (err instanceof ConfigError) failConfig(err);
    throw err;
  }
  try {
    // an evacuation started through the API before a restart goes on (EMQX's behaviour)
    const kept = rebalance.resumeKept();
    if (kept) logger.warn({ evacuation: kept }, 'Evacuation kept from before the restart: evacuating again (vireo ctl rebalance stop ends it)');
  } catch (err) {
    await Promise.all([admin?.close(), rules?.close(), broker.close()]);
    fail(EXIT_START_FAILED, [`vireo: cannot resume the evacuation kept in ${evacuationFile.path}: ${err instanceof Error ? err.message : String(err)}`]);
  }
  try {
    // last: clients that connect at once (a load balancer's backlog) meet a node that is not
    // still loading and starting its API, cluster and store, and whose hot path is compiled
    await warmUpFor(logger);
    await broker.listen();
  } catch (err) {
    if (err instanceof ListenError) fail(EXIT_START_FAILED, [`vireo: ${err.message}`]);
    throw err;
  }

  const listeners = broker.addresses().map((a) => `${a.name} ${formatBind(a)}`);
  logger.info(
    { version: VERSION, config: file ?? null, listeners: broker.addresses() },
    `Vireo ${VERSION} started${listeners.length ? `, listening on ${listeners.join(', ')}` : ' with no listeners'}`,
  );
}

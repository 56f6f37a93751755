/**
 * Maps `durable_storage.*` and `node.data_dir` to the store the broker keeps its durable
 * state in: SQLite in the data dir, or memory.
 */
import { MemoryStore, type BrokerStore } from '@vireo/broker';
import { openSqliteStore } from '@vireo/store';
import type { Logger } from 'pino';
import type { VireoConfig } from './config-schema.js';

/** Opens the configured store; throws (StoreError) naming the file or data dir when it cannot. */
export function openStoreFor(cfg: VireoConfig, logger: Logger, force: boolean): BrokerStore {
  if (cfg.durable_storage.backend === 'memory') {
    logger.info('durable_storage.backend is memory: retained messages and sessions do not survive a restart');
    return new MemoryStore();
  }
  const dataDir = cfg.node.data_dir;
  const { store, identity } = openSqliteStore({
    dataDir,
    nodeName: cfg.node.name,
    force,
    durability: cfg.durable_storage.durability,
    flushInterval: cfg.durable_storage.flush_interval,
    onError: (message) => logger.error({ data_dir: dataDir }, message),
  });
  if (identity.adoptedFrom !== undefined) {
    logger.warn({ data_dir: dataDir, previous_node: identity.adoptedFrom }, `Data dir of node ${identity.adoptedFrom} adopted (--force)`);
  }
  return store;
}

/**
 * `etcd` discovery: each node puts `<prefix>/nodes/<node name>` = its cluster address under
 * a lease it keeps alive (the key vanishes `node_ttl` after the node dies), lists the
 * prefix for candidates, and watches it so a new node is dialled at once.
 */
import { Etcd3, type Lease, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { Discovery, DiscoverySelf } from './discovery.js';

export interface EtcdDiscoveryOptions {
  servers: string[];
  prefix: string;
  /** Lease TTL in ms (etcd counts whole seconds). */
  ttlMs: number;
  logger: Logger;
}

export function etcdDiscovery(options: EtcdDiscoveryOptions): Discovery {
  const client = new Etcd3({ hosts: options.servers, dialTimeout: 3000 });
  const dir = `${options.prefix.replace(/\/+$/, '')}/nodes/`;
  let self: DiscoverySelf | undefined;
  let lease: Lease | undefined;
  let watcher: Watcher | undefined;
  let failing = false;

  const register = async (): Promise<void> => {
    if (!self || (lease && !lease.revoked())) return;
    const l = client.lease(Math.max(1, Math.round(options.ttlMs / 1000)));
    l.on('lost', (err) => {
      options.logger.warn({ discovery: 'etcd', err: err.message }, 'etcd lease lost, registering again');
      if (lease === l) lease = undefined;
    });
    await l.put(dir + self.node).value(self.addr);
    lease = l;
    options.logger.info({ discovery: 'etcd', key: dir + self.node, ttl_s: Math.round(options.ttlMs / 1000) }, 'Registered in etcd');
  };

  return {
    strategy: 'etcd',
    async start(me, changed) {
      self = me;
      try {
        watcher = await client.watch().prefix(dir).create();
        watcher.on('put', () => changed());
        watcher.on('error', () => {}); // the library reconnects; candidates() reports failures
      } catch {
        // etcd not up yet: candidates() retries registration on schedule
      }
    },
    async candidates() {
      try {
        await register();
        const nodes = await client.getAll().prefix(dir).strings();
        if (failing) options.logger.info({ discovery: 'etcd' }, 'etcd reachable again');
        failing = false;
        return Object.values(nodes);
      } catch (err) {
        lease = undefined;
        if (!failing) {
          options.logger.warn({ discovery: 'etcd', servers: options.servers, err: err instanceof Error ? err.message : String(err) }, 'etcd unreachable, retrying');
        }
        failing = true;
        return [];
      }
    },
    close() {
      void watcher?.cancel().catch(() => {});
      const l = lease;
      lease = undefined;
      // revoke so peers stop dialling at once; the TTL covers a node that dies instead
      void (l ? l.revoke().catch(() => {}) : Promise.resolve()).finally(() => client.close());
    },
  };
}

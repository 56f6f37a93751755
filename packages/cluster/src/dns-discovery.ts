/**
 * `dns` discovery: the peers are the records of one name. `a`/`aaaa` give addresses (the
 * port is this node's `cluster.rpc.bind` port, the same on every node); `srv` gives a
 * target and a port per node, the target resolved to an address by the same resolver.
 * Asked again on every discovery round, so records that change are followed.
 */
import { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { Discovery } from './discovery.js';

export interface DnsDiscoveryOptions {
  name: string;
  recordType: 'a' | 'aaaa' | 'srv';
  /** Port of the peers for `a`/`aaaa`. */
  port: number;
  /** `host:port` of the DNS server to ask; the system's resolvers when unset. */
  resolver?: string;
  logger: Logger;
}

export function dnsDiscovery(options: DnsDiscoveryOptions): Discovery {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (options.resolver) resolver.setServers([options.resolver]);
  let failing = false;

  const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

  const lookup = async (): Promise<string[]> => {
    switch (options.recordType) {
      case 'a':
        return (await resolver.resolve4(options.name)).map((ip) => hostPort(ip, options.port));
      case 'aaaa':
        return (await resolver.resolve6(options.name)).map((ip) => hostPort(ip, options.port));
      case 'srv': {
        const records = await resolver.resolveSrv(options.name);
        return Promise.all(
          records.map(async (r) => {
            // gRPC would resolve the target with the system resolver; ask ours instead
            const ips = await resolver.resolve4(r.name).catch(() => [] as string[]);
            return hostPort(ips[0] ?? r.name, r.port);
          }),
        );
      }
    }
  };

  return {
    strategy: 'dns',
    async candidates() {
      try {
        const found = await lookup();
        if (failing) options.logger.info({ discovery: 'dns', name: options.name }, 'DNS discovery answers again');
        failing = false;
        return found;
      } catch (err) {
        if (!failing) {
          options.logger.warn(
            { discovery: 'dns', name: options.name, record_type: options.recordType, err: err instanceof Error ? err.message : String(err) },
            'DNS discovery lookup failed, retrying',
          );
        }
        failing = true;
        return [];
      }
    },
    close() {
      resolver.cancel();
    },
  };
}

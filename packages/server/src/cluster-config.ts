/**
 * Maps the `cluster.*` and `node.*` keys to the cluster package. Clustering is on when
 * `cluster.rpc.bind` has a port other than 0, whatever the strategy: a `manual` node opens
 * its port too, so that `vireo ctl cluster join` can make it (or another node) join.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterLink, SharedStrategy } from '@vireo/broker';
import {
  dnsDiscovery,
  etcdDiscovery,
  k8sDiscovery,
  manualDiscovery,
  mcastDiscovery,
  GrpcCluster,
  startCluster,
  staticDiscovery,
  type Discovery,
  type Membership,
  type RpcTls,
} from '@vireo/cluster';
import type { Logger } from 'pino';
import { ConfigError } from './config-error.js';
import { resolveCookie } from './cookie.js';
import type { VireoConfig } from './config-schema.js';

/** Strategies whose discovery is built; the others fail start-up naming the key. */
const BUILT = new Set(['manual', 'static', 'etcd', 'dns', 'k8s', 'mcast']);

export function clusterEnabled(cfg: VireoConfig): boolean {
  return cfg.cluster.rpc.bind.port !== 0;
}

function discovery(cfg: VireoConfig, logger: Logger, cookie: string): Discovery {
  const strategy = cfg.cluster.discovery_strategy;
  if (!BUILT.has(strategy)) {
    throw new ConfigError([
      { path: 'cluster.discovery_strategy', message: `"${strategy}" discovery is not built yet; use "static", "etcd", "dns" or "k8s" (or "manual" for a single node)` },
    ]);
  }
  if (strategy === 'manual') return manualDiscovery();
  if (strategy === 'etcd') {
    const e = cfg.cluster.etcd;
    if (e.server.length === 0) throw new ConfigError([{ path: 'cluster.etcd.server', message: 'the etcd strategy needs at least one endpoint' }]);
    return etcdDiscovery({ servers: e.server.map(String), prefix: e.prefix, ttlMs: e.node_ttl, logger });
  }
  if (strategy === 'dns') {
    const d = cfg.cluster.dns;
    return dnsDiscovery({
      name: d.name,
      recordType: d.record_type,
      port: cfg.cluster.rpc.bind.port,
      resolver: d.resolver === '' ? undefined : d.resolver,
      logger,
    });
  }
  if (strategy === 'mcast') {
    const m = cfg.cluster.mcast;
    return mcastDiscovery({ group: m.addr, port: m.port, iface: m.iface, ttl: m.ttl, intervalMs: 2000, logger, cookie });
  }
  if (strategy === 'k8s') {
    const k = cfg.cluster.k8s;
    return k8sDiscovery({
      apiserver: k.apiserver,
      serviceName: k.service_name,
      namespace: k.namespace,
      addressType: k.address_type,
      suffix: k.suffix,
      port: cfg.cluster.rpc.bind.port,
      tokenFile: k.token_file,
      caFile: k.ca_file,
      logger,
    });
  }
  return staticDiscovery(cfg.cluster.static.seeds.map(String));
}

/** Opens the cluster port and starts discovery; undefined when clustering is off. */
/** `cluster.rpc.driver = ssl`: the three PEM files, read now so a bad one fails start-up naming its key. */
function rpcTls(cfg: VireoConfig): RpcTls | undefined {
  const rpc = cfg.cluster.rpc;
  if (rpc.driver !== 'ssl') return undefined;
  const issues: { path: string; message: string }[] = [];
  const read = (key: 'certfile' | 'keyfile' | 'cacertfile'): Buffer => {
    const file = rpc[key];
    if (file === undefined) {
      issues.push({ path: `cluster.rpc.${key}`, message: 'cluster.rpc.driver = ssl needs certfile, keyfile and cacertfile' });
      return Buffer.alloc(0);
    }
    try {
      return readFileSync(file);
    } catch (err) {
      issues.push({ path: `cluster.rpc.${key}`, message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      return Buffer.alloc(0);
    }
  };
  const tls = { cert: read('certfile'), key: read('keyfile'), ca: read('cacertfile') };
  if (issues.length > 0) throw new ConfigError(issues);
  return tls;
}

export async function startClusterFor(cfg: VireoConfig, logger: Logger, sharedStrategy: SharedStrategy): Promise<GrpcCluster | undefined> {
  if (!clusterEnabled(cfg)) return undefined;
  const tls = rpcTls(cfg);
  const { protocol_min: min, protocol_max: max } = cfg.cluster.rpc;
  if (min > max) throw new ConfigError([{ path: 'cluster.rpc.protocol_min', message: `${min} is above cluster.rpc.protocol_max (${max})` }]);
  const cookie = resolveCookie(cfg.node.cookie, cfg.node.data_dir, logger);
  return startCluster({
    node: cfg.node.name,
    cookie,
    bind: cfg.cluster.rpc.bind,
    discovery: discovery(cfg, logger, cookie),
    sharedStrategy,
    logger,
    membershipFile: path.join(cfg.node.data_dir, 'cluster.json'),
    autocleanMs: cfg.cluster.autoclean,
    autoheal: cfg.cluster.autoheal,
    tls,
    callTimeoutMs: cfg.cluster.rpc.call_receive_timeout,
    maxFrameBytes: cfg.cluster.rpc.max_frame_size,
    maxPendingBytes: cfg.cluster.rpc.max_pending_bytes,
    protocols: { min, max },
  });
}

/** The membership of a node's cluster link (for the HTTP API and readiness); undefined when clustering is off. */
export function membershipOf(link: ClusterLink): Membership | undefined {
  return link instanceof GrpcCluster ? link.members : undefined;
}

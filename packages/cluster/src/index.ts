export { GrpcCluster, startCluster } from './grpc-cluster.js';
export type { ClusterOptions } from './grpc-cluster.js';
export { manualDiscovery, staticDiscovery } from './discovery.js';
export type { Discovery, DiscoverySelf } from './discovery.js';
export { etcdDiscovery } from './etcd-discovery.js';
export { dnsDiscovery } from './dns-discovery.js';
export type { DnsDiscoveryOptions } from './dns-discovery.js';
export type { EtcdDiscoveryOptions } from './etcd-discovery.js';

export { GrpcCluster, startCluster } from './grpc-cluster.js';
export type { ClusterOptions } from './grpc-cluster.js';
export { manualDiscovery, staticDiscovery } from './discovery.js';
export type { Discovery } from './discovery.js';

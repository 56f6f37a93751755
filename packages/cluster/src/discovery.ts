/**
 * Discovery only yields candidate peer addresses (`host:port` of their gRPC port); the
 * cluster connects, authenticates and decides who is up. Asked again on every retry.
 */
export interface Discovery {
  readonly strategy: string;
  /** Once the cluster port is open: who this node is; `changed` asks for a discovery round now. */
  start?(self: DiscoverySelf, changed: () => void): Promise<void>;
  /** Never rejects for long: a strategy logs its own failures and returns what it has. */
  candidates(): Promise<string[]>;
  close(): void;
}

export interface DiscoverySelf {
  node: string;
  /** This node's cluster address as peers dial it. */
  addr: string;
}

/** `manual`: no peers of its own (peers that dial this node are still accepted). */
export function manualDiscovery(): Discovery {
  return { strategy: 'manual', candidates: async () => [], close() {} };
}

/** `static`: a fixed seed list, `cluster.static.seeds`. */
export function staticDiscovery(seeds: readonly string[]): Discovery {
  const list = [...seeds];
  return { strategy: 'static', candidates: async () => list, close() {} };
}

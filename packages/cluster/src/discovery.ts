/**
 * Discovery only yields candidate peer addresses (`host:port` of their gRPC port); the
 * cluster connects, authenticates and decides who is up. Asked again on every retry.
 */
export interface Discovery {
  readonly strategy: string;
  candidates(): Promise<string[]>;
  close(): void;
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

import type { Message } from './message.js';

/**
 * The seam between one node's broker and the rest of a cluster. The broker calls it when
 * its routes change and when a message must reach other nodes; `LocalCluster` is the
 * single-node implementation, the cluster package provides the real one.
 */
export interface ClusterLink {
  /** This node's name. */
  readonly node: string;
  /** A first local subscriber appeared for `filter` (shared: `group` set). */
  addRoute(filter: string, group: string | undefined): void;
  /** The last local subscriber of `filter` went away. */
  deleteRoute(filter: string, group: string | undefined): void;
  /** Sends `msg` to other nodes with matching routes; returns how many nodes it went to. */
  forward(msg: Message): number;
  /** Names of running nodes, this one included. */
  nodes(): string[];
}

export class LocalCluster implements ClusterLink {
  constructor(readonly node: string) {}
  addRoute(): void {}
  deleteRoute(): void {}
  forward(): number {
    return 0;
  }
  nodes(): string[] {
    return [this.node];
  }
}

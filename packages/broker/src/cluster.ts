import type { Logger } from 'pino';
import type { Message } from './message.js';

/** What a cluster implementation needs from the node's broker. */
export interface ClusterHost {
  readonly logger: Logger;
  /**
   * Delivers a message forwarded by another node to this node's subscribers only (never
   * forwarded again): every matching plain subscription, and one member of each shared
   * group named in `groups` (`group/filter`).
   */
  dispatchLocal(msg: Message, groups: readonly string[] | undefined): number;
  /** Stores a retained message that another node published (the cluster decides which write wins). */
  retainLocal(msg: Message): void;
  /** Every retained message of this node, for a peer that (re)connects. */
  retainedMessages(): Message[];
  /** Every route of this node, `group` set for shared subscriptions: the snapshot a peer gets. */
  localRoutes(): { filter: string; group: string | undefined }[];
  /** A node joined or left (`nodes()` changed). */
  nodesChanged(): void;
}

/**
 * The seam between one node's broker and the rest of a cluster. The broker calls it when
 * its routes change and when a message must reach other nodes; `LocalCluster` is the
 * single-node implementation, the cluster package provides the real one.
 */
export interface ClusterLink {
  /** This node's name. */
  readonly node: string;
  /** Called once by the broker that uses this link, before any other call. */
  attach(host: ClusterHost): void;
  /** A first local subscriber appeared for `filter` (shared: `group` set). */
  addRoute(filter: string, group: string | undefined): void;
  /** The last local subscriber of `filter` went away. */
  deleteRoute(filter: string, group: string | undefined): void;
  /**
   * Sends `msg` to other nodes with matching routes (synchronously queued, sent in
   * batches); returns how many nodes it went to. It also decides, for shared groups with
   * members on several nodes, which node delivers: afterwards `sharedElsewhere` holds the
   * `group/filter` keys this node must skip for this message (undefined: none).
   */
  forward(msg: Message): number;
  readonly sharedElsewhere: ReadonlySet<string> | undefined;
  /** Names of running nodes, this one included, sorted. */
  nodes(): string[];
  /** Leaves the cluster (the broker is stopping). */
  close(): Promise<void>;
}

export class LocalCluster implements ClusterLink {
  readonly sharedElsewhere = undefined;
  constructor(readonly node: string) {}
  attach(): void {}
  addRoute(): void {}
  deleteRoute(): void {}
  forward(): number {
    return 0;
  }
  nodes(): string[] {
    return [this.node];
  }
  async close(): Promise<void> {}
}

import type { Logger } from 'pino';
import type { ClusterPeerStats } from './node/cluster-stats.js';
import type { Message } from './message.js';
import type { Delivery, SessionState } from './session/types.js';

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
  /** Clientids with a session on this node, for the registry snapshot. */
  localClients(): string[];
  /**
   * Takeover phase 1, on the old node: closes the client's connection (`takeovered`, or
   * `discarded` on clean start) and hands over its session; a stand-in keeps its routes
   * and queues what still arrives. Undefined when there is no session to move.
   */
  takeoverBegin(clientId: string, cleanStart: boolean): SessionState | undefined;
  /** Takeover phase 2, on the old node: ends the stand-in and returns what it queued. */
  takeoverEnd(clientId: string): Delivery[];
  /** On the new node: what the old node queued during the takeover. */
  takeoverRest(clientId: string, deliveries: Delivery[]): void;
  /**
   * Evacuation, on the leaving node: phase 1 of a takeover this node drives — hands over a
   * session (with its delayed will and expiry time) and keeps a stand-in, as takeoverBegin.
   */
  pushBegin(clientId: string): SessionState | undefined;
  /** Evacuation, on the receiving node: stores a pushed session as an offline one, with its routes. */
  pushInstall(state: SessionState): void;
  /** Evacuation, on the leaving node: the push failed; the session is back here. */
  pushFailed(state: SessionState): void;
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
   * `retained` false: a retained publish this node's retainer refused (a limit), not copied
   * to the peers' retainers either (the message itself is forwarded).
   */
  forward(msg: Message, retained?: boolean): number;
  readonly sharedElsewhere: ReadonlySet<string> | undefined;
  /**
   * A session for `clientId` now exists on this node, or a new connection attached to it
   * (the cluster-wide client registry: each call is a newer claim on the clientid).
   */
  registerClient(clientId: string): void;
  /** This node's session of `clientId` ended. */
  unregisterClient(clientId: string): void;
  /**
   * On CONNECT: when another node has a session of `clientId`, ends it there (clean start)
   * or moves it here; resolves with the moved session (undefined: none, or it failed).
   * Returns undefined at once when no other node has it, so a local CONNECT never waits.
   */
  claimClient(clientId: string, cleanStart: boolean): Promise<SessionState | undefined> | undefined;
  /**
   * Evacuation: moves this node's session of `clientId` to `node` (a running peer), driven
   * from here; resolves true once `node` has it with its routes and what arrived meanwhile,
   * false when it could not (the session stays here). Absent on a single node.
   */
  pushSession?(clientId: string, node: string): Promise<boolean>;
  /** Sessions each running peer reports holding (the client registry), by node name. */
  sessionCounts?(): Record<string, number>;
  /** Names of running nodes, this one included, sorted. */
  nodes(): string[];
  /** Leaves the cluster (the broker is stopping). */
  close(): Promise<void>;
  /** Per-peer forwarding, round trips, stopped nodes and the route count, for the metrics endpoint. */
  peerStats?(): ClusterPeerStats;
  /** Sets what answers admin calls (`callNode`) on this node, for peers and for itself. */
  serveAdmin?(handler: AdminCallHandler): void;
  /**
   * Runs admin operation `op` on `node` (this node included) and resolves with its answer;
   * rejects with an `AdminCallError` when the node is unknown or down, does not answer
   * within the call timeout, or its handler failed. Never waits longer than the timeout.
   */
  callNode?(node: string, op: string, args: unknown): Promise<unknown>;
}

/**
 * Answers one admin call (the HTTP API asking a node for its part of a cluster-wide
 * answer). Arguments and answers are plain JSON values: they cross the wire as JSON.
 */
export type AdminCallHandler = (op: string, args: unknown) => Promise<unknown>;

/** An admin call that got no answer: `node` and why (`timeout`, `not_running`, `failed`). */
export class AdminCallError extends Error {
  constructor(
    readonly node: string,
    readonly reason: 'timeout' | 'not_running' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'AdminCallError';
  }
}

export class LocalCluster implements ClusterLink {
  readonly sharedElsewhere = undefined;
  private adminHandler: AdminCallHandler | undefined;
  constructor(readonly node: string) {}
  serveAdmin(handler: AdminCallHandler): void {
    this.adminHandler = handler;
  }
  async callNode(node: string, op: string, args: unknown): Promise<unknown> {
    if (node !== this.node || !this.adminHandler) throw new AdminCallError(node, 'not_running', `node ${node} is not running`);
    return this.adminHandler(op, args);
  }
  attach(): void {}
  registerClient(): void {}
  unregisterClient(): void {}
  claimClient(): undefined {
    return undefined;
  }
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

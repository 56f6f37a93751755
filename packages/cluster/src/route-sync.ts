/**
 * Route replication: this node's routes (plain filters and shared groups with members
 * here) go to every peer as a snapshot when a link comes up, then as numbered deltas; the
 * peers' routes land in a RouteTable. The client registry's claims (client-lock.ts) ride
 * on the same frames, so a route and the clientid that made it arrive together.
 */
import type { Logger } from 'pino';
import type { ClientLock } from './client-lock.js';
import { RouteTable, routeKey } from './route-table.js';
import type { Frame, WireRoute } from './wire.js';

export type RoutesBody = NonNullable<Frame['routes']>;

export interface RouteSyncDeps {
  readonly log: Logger;
  readonly lock: ClientLock;
  /** Asks for a flush soon (the delta goes out then). */
  schedule(): void;
}

export class RouteSync {
  /** Every peer's routes. */
  readonly remote = new RouteTable();
  /** This node's routes by routeKey. */
  private readonly local = new Map<string, WireRoute>();
  private pendingAdd: WireRoute[] = [];
  private pendingDel: WireRoute[] = [];
  private seq = 0;
  /** The last delta number applied per peer; unset until its snapshot arrived. */
  private readonly remoteSeq = new Map<string, number>();

  constructor(private readonly deps: RouteSyncDeps) {}

  add(filter: string, group: string | undefined): void {
    const r = { filter, group: group ?? '' };
    const key = routeKey(r);
    if (this.local.has(key)) return;
    this.local.set(key, r);
    this.pendingAdd.push(r);
    this.deps.schedule();
  }

  delete(filter: string, group: string | undefined): void {
    const r = { filter, group: group ?? '' };
    if (!this.local.delete(routeKey(r))) return;
    this.pendingDel.push(r);
    this.deps.schedule();
  }

  /** Whether this node has members of shared `group` on `filter`. */
  hasLocalShared(filter: string, group: string): boolean {
    return this.local.has(routeKey({ filter, group }));
  }

  /** Routes here plus every peer's (metrics). */
  get size(): number {
    return this.local.size + this.remote.size;
  }

  /** The delta since the last call, numbered, for every peer; undefined when nothing changed. */
  takeDelta(): Frame | undefined {
    if (this.pendingAdd.length + this.pendingDel.length === 0 && !this.deps.lock.hasDelta()) return undefined;
    this.seq++;
    const c = this.deps.lock.takeDelta();
    const frame: Frame = {
      routes: { snapshot: false, seq: this.seq, add: this.pendingAdd, del: this.pendingDel, clients_add: c.add, clients_del: c.del, clients_add_ts: c.stamps },
    };
    this.pendingAdd = [];
    this.pendingDel = [];
    return frame;
  }

  /** Everything for a peer whose link just came up; deltas numbered after it follow. */
  snapshot(localClients: readonly string[]): Frame {
    const c = this.deps.lock.snapshot(localClients);
    return { routes: { snapshot: true, seq: this.seq, add: [...this.local.values()], del: [], clients_add: c.add, clients_del: [], clients_add_ts: c.stamps } };
  }

  /**
   * A routes frame from `node`. Returns 'gap' when a delta is missing: one ordered stream
   * cannot lose one, so the caller closes the link and the peer starts over with a snapshot.
   */
  receive(node: string, body: RoutesBody): 'gap' | undefined {
    const { snapshot, seq, add, del, clients_add, clients_del, clients_add_ts } = body;
    if (snapshot) {
      this.remote.replace(node, add);
      this.deps.lock.receive(node, clients_add, clients_add_ts ?? [], [], true);
      this.remoteSeq.set(node, seq ?? 0);
      this.deps.log.debug({ peer_node: node, routes: add.length, seq }, 'Cluster routes snapshot');
      return undefined;
    }
    const last = this.remoteSeq.get(node);
    if (last === undefined || seq <= last) return undefined;
    if (seq !== last + 1) {
      this.deps.log.warn({ peer_node: node, expected: last + 1, got: seq }, 'Cluster route sequence gap, resyncing');
      return 'gap';
    }
    this.remoteSeq.set(node, seq);
    this.remote.apply(node, add, del);
    this.deps.lock.receive(node, clients_add, clients_add_ts ?? [], clients_del, false);
    return undefined;
  }

  /** `node`'s stream to us (re)opened: its snapshot comes first. */
  peerUp(node: string): void {
    this.remoteSeq.delete(node);
  }

  /** `node`'s stream to us closed: its routes and clients go with it. */
  peerDown(node: string): void {
    this.remoteSeq.delete(node);
    const purged = this.remote.purge(node);
    this.deps.lock.registry.purge(node);
    if (purged > 0) this.deps.log.info({ peer_node: node, routes: purged }, 'Purged routes of cluster node');
  }
}

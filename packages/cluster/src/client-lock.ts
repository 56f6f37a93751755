/**
 * The cluster-wide guarantee that a clientid has one session: claims with a total order
 * instead of a lock round trip.
 *
 * A node that opens a session (or attaches a new connection to one) claims the clientid
 * with a stamp: a hybrid logical clock in microseconds, greater than this node's previous
 * stamps and than any claim on that clientid this node has heard of. Claims ride the
 * route stream (deltas, and snapshots when a link comes up). Every node orders two claims
 * the same way (stamp, then node name), so when two nodes claimed a clientid without
 * knowing of each other — two CONNECTs at the same instant, or one on each side of a
 * partition — both see both claims and the node holding the older one ends its session
 * (`discarded`, DISCONNECT 0x8E). A CONNECT for a clientid no other node claims never
 * waits for another node; one another node claims moves that node's session first (the
 * takeover), and the new claim is then newer by construction.
 */
import type { Logger } from 'pino';
import { ClientRegistry, newer, type Claim } from './client-registry.js';

/** Stamp of a session restored from disk or found before its claim was made: older than any live claim. */
const RESTORED = 1;
/** How long this node remembers where it handed a session, for askers that raced the first one. */
const HANDED_MS = 10_000;

export interface ClientLockOptions {
  node: string;
  /** Settle clientids claimed on both sides of a partition when the sides meet again. */
  autoheal: boolean;
  logger: Logger;
  /** This node's claim lost: end its session of `clientId` (close the connection, drop the session). */
  discardLocal(clientId: string): void;
}

export interface ClaimDelta {
  add: string[];
  stamps: number[];
  del: string[];
}

export class ClientLock {
  /** Claims of the other nodes. */
  readonly registry = new ClientRegistry();
  private readonly mine = new Map<string, number>();
  /** Changes for the next routes frame: a stamp (claimed) or 0 (released); the last change wins. */
  private readonly pending = new Map<string, number>();
  private clock = 0;
  /** Where this node handed each clientid's session lately (takeover). */
  private readonly handed = new Map<string, { node: string; at: number }>();

  constructor(private readonly opts: ClientLockOptions) {}

  /** A session of `clientId` is here now, or a new connection attached to it. */
  claim(clientId: string): void {
    const known = this.registry.claim(clientId)?.ts ?? 0;
    const ts = Math.max(Date.now() * 1000, this.clock + 1, known + 1);
    this.clock = ts;
    this.mine.set(clientId, ts);
    this.pending.set(clientId, ts);
    this.handed.delete(clientId);
  }

  release(clientId: string): void {
    this.mine.delete(clientId);
    this.pending.set(clientId, 0);
  }

  /**
   * This node hands its session of `clientId` to the node that asked (takeover): that
   * node's claim will be newer, and ours must not compete with it meanwhile.
   */
  yieldTo(clientId: string): void {
    this.mine.delete(clientId);
    if (this.pending.get(clientId)) this.pending.delete(clientId);
  }

  /** The session of `clientId` went to `node` (takeover): a second asker is sent on there. */
  handedTo(clientId: string, node: string): void {
    const now = Date.now();
    if (this.handed.size >= 1024) for (const [id, h] of this.handed) if (now - h.at > HANDED_MS) this.handed.delete(id);
    this.handed.set(clientId, { node, at: now });
  }

  /** The node this node handed `clientId`'s session to a moment ago, unless that is `asker` itself. */
  movedTo(clientId: string, asker: string): string | undefined {
    const h = this.handed.get(clientId);
    if (!h || Date.now() - h.at > HANDED_MS || h.node === asker) return undefined;
    return h.node;
  }

  /** Our stamp on `clientId`, if this node claims it. */
  stamp(clientId: string): number | undefined {
    return this.mine.get(clientId);
  }

  /** On CONNECT: the node whose claim on `clientId` beats ours (take the session from it), if any. */
  ownerElsewhere(clientId: string): string | undefined {
    const theirs = this.registry.claim(clientId);
    if (!theirs) return undefined;
    const ours = this.mine.get(clientId);
    if (ours !== undefined && newer({ ts: ours, node: this.opts.node }, theirs)) return undefined;
    return theirs.node;
  }

  hasDelta(): boolean {
    return this.pending.size > 0;
  }

  takeDelta(): ClaimDelta {
    const d: ClaimDelta = { add: [], stamps: [], del: [] };
    for (const [id, ts] of this.pending) {
      if (ts === 0) d.del.push(id);
      else {
        d.add.push(id);
        d.stamps.push(ts);
      }
    }
    this.pending.clear();
    return d;
  }

  /** Every clientid with a session here and its stamp, for a peer's snapshot. */
  snapshot(localClients: readonly string[]): { add: string[]; stamps: number[] } {
    this.adopt(localClients);
    const add: string[] = [];
    const stamps: number[] = [];
    for (const [id, ts] of this.mine) {
      add.push(id);
      stamps.push(ts);
    }
    return { add, stamps };
  }

  /** Sessions the broker has without a claim (restored from disk) count as the oldest claims. */
  adopt(localClients: readonly string[]): void {
    for (const id of localClients) if (!this.mine.has(id)) this.mine.set(id, RESTORED);
  }

  /** A peer's claims: record them and end our sessions whose claims lost. */
  receive(node: string, add: readonly string[], stamps: readonly number[], del: readonly string[], snapshot: boolean): void {
    if (snapshot) this.registry.replace(node, add, stamps);
    else this.registry.apply(node, add, del, stamps);
    if (this.mine.size === 0) return;
    for (let i = 0; i < add.length; i++) {
      const id = add[i]!;
      const ours = this.mine.get(id);
      if (ours === undefined) continue;
      const theirs: Claim = { ts: stamps[i] || RESTORED, node };
      if (!newer(theirs, { ts: ours, node: this.opts.node })) continue; // theirs loses: that node ends its own
      const fields = { clientid: id, peer_node: node, reason: 'discarded', stamp: ours, peer_stamp: theirs.ts };
      if (snapshot && !this.opts.autoheal) {
        this.opts.logger.warn(fields, 'Clientid has a session on two nodes after they reconnected; cluster.autoheal is off, both stay');
        continue;
      }
      this.opts.logger.info(
        fields,
        snapshot
          ? 'Autoheal: clientid connected on two nodes while they were apart, the older session is discarded'
          : 'Clientid claimed on two nodes at once, the older claim is discarded',
      );
      this.release(id);
      this.opts.discardLocal(id);
    }
  }
}

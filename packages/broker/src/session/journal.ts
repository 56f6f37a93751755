import { newMessageId } from '../message.js';
import type { BrokerStore, PersistedSession, StoredDelivery, StoredState } from '../persistence/store.js';
import { Session } from './session.js';
import type { Delivery, InflightEntry, SessionEvents, SessionJournal, SessionLimits, SessionRef } from './types.js';

/** A Delivery with the store's number of it (see StoreJournal.key). */
type Numbered = Delivery & Record<symbol, number | undefined>;

/**
 * Numbers each held message and turns the sessions' events into store writes. The numbers are
 * node-wide (so in order within each session, and a store can key pending writes by number alone).
 */
export class StoreJournal implements SessionJournal {
  private nextSeq = 1;
  /**
   * The number is kept on the Delivery itself: a property read, where a WeakMap lookup per
   * event cost several times more (and GC work). A symbol of this journal's own, so it never
   * crosses to another node (structured clone skips symbol keys), into a record, or to another
   * broker in the same process. 0 or absent: not numbered.
   */
  private readonly key = Symbol('vireo.store.seq');

  private seqOf(d: Delivery): number {
    return (d as Numbered)[this.key] ?? 0;
  }

  private setSeq(d: Delivery, seq: number): void {
    (d as Numbered)[this.key] = seq;
  }

  constructor(private readonly store: BrokerStore) {}

  queued(s: SessionRef, d: Delivery): void {
    this.store.putDelivery(s.clientId, this.assign(d), 0, 0, d);
  }

  sent(s: SessionRef, d: Delivery, pid: number): void {
    const seq = this.seqOf(d);
    if (seq === 0) this.store.putDelivery(s.clientId, this.assign(d), pid, 1, d);
    else this.store.setDeliveryState(s.clientId, seq, pid, 1);
  }

  released(s: SessionRef, d: Delivery, pid: number): void {
    const seq = this.seqOf(d);
    if (seq !== 0) this.store.setDeliveryState(s.clientId, seq, pid, 2);
  }

  done(s: SessionRef, d: Delivery): void {
    const seq = this.seqOf(d);
    if (seq === 0) return;
    this.setSeq(d, 0);
    this.store.deleteDelivery(s.clientId, seq);
  }

  awaitingRel(s: SessionRef, pid: number, at: number | undefined): void {
    if (at === undefined) this.store.deleteAwaitingRel(s.clientId, pid);
    else this.store.putAwaitingRel(s.clientId, pid, at);
  }

  /** Starts journaling a session: writes what it already holds (a session restored or moved here). */
  attach(s: Session): void {
    s.journal = this;
    for (const e of s.inflight.values()) if (this.seqOf(e.delivery) === 0) this.sent(s, e.delivery, e.pid);
    for (const e of s.inflight.values()) if (e.state === 'pubrel') this.released(s, e.delivery, e.pid);
    for (const d of s.mqueue.toArray()) if (this.seqOf(d) === 0) this.queued(s, d);
    for (const [pid, at] of s.awaitingRel) this.awaitingRel(s, pid, at);
  }

  /**
   * Stops journaling (the store deletes the session's rows with the session): its messages
   * lose their numbers, so a later attach writes them again.
   */
  detach(s: Session): void {
    s.journal = undefined;
    for (const e of s.inflight.values()) this.setSeq(e.delivery, 0);
    for (const d of s.mqueue.toArray()) this.setSeq(d, 0);
  }

  /** A message read back from the store keeps its number. */
  adopt(sd: StoredDelivery): void {
    this.setSeq(sd.delivery, sd.seq);
    if (sd.seq >= this.nextSeq) this.nextSeq = sd.seq + 1;
  }

  private assign(d: Delivery): number {
    const seq = this.nextSeq++;
    this.setSeq(d, seq);
    return seq;
  }
}

/**
 * Rebuilds a persistent session from the store: queued messages in order, inflight ones with
 * their packet ids and QoS 2 phase (resent with DUP when the client reconnects), incoming QoS 2
 * ids awaiting PUBREL. Subscriptions are the caller's (they also make routes).
 */
export function sessionFromStore(p: PersistedSession, index: StoredIndex, limits: SessionLimits, events: SessionEvents, journal: StoreJournal): Session {
  const inflight: InflightEntry[] = [];
  const mqueue: Delivery[] = [];
  let maxPid = 0;
  const now = Date.now();
  for (const sd of index.deliveries.get(p.clientId) ?? []) {
    // ids are unique per node lifetime; the stored ones belong to the previous run
    sd.delivery.msg.id = newMessageId();
    journal.adopt(sd);
    if (sd.state === 0) mqueue.push(sd.delivery);
    else {
      inflight.push({ pid: sd.pid, delivery: sd.delivery, state: sd.state === 2 ? 'pubrel' : 'publish', sentAt: now });
      if (sd.pid > maxPid) maxPid = sd.pid;
    }
  }
  const rels = index.awaitingRel.get(p.clientId) ?? [];
  const s = Session.import(
    {
      clientId: p.clientId,
      createdAt: p.createdAt,
      expiryInterval: p.expiryInterval,
      subscriptions: [],
      inflight,
      mqueue,
      awaitingRel: rels,
      nextPacketId: maxPid >= 65535 ? 1 : maxPid + 1,
    },
    limits,
    events,
  );
  s.journal = journal;
  return s;
}

/** The stored messages and QoS 2 ids, by clientid. */
export interface StoredIndex {
  deliveries: Map<string, StoredDelivery[]>;
  awaitingRel: Map<string, [number, number][]>;
}

export function indexStored(state: Pick<StoredState, 'deliveries' | 'awaitingRel'>): StoredIndex {
  const deliveries = new Map<string, StoredDelivery[]>();
  for (const sd of state.deliveries) {
    let list = deliveries.get(sd.clientId);
    if (!list) deliveries.set(sd.clientId, (list = []));
    list.push(sd);
  }
  const awaitingRel = new Map<string, [number, number][]>();
  for (const r of state.awaitingRel) {
    let list = awaitingRel.get(r.clientId);
    if (!list) awaitingRel.set(r.clientId, (list = []));
    list.push([r.pid, r.at]);
  }
  return { deliveries, awaitingRel };
}

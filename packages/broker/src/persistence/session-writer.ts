import type { Session } from '../session/session.js';
import { StoreJournal } from '../session/journal.js';
import type { SubOptions } from '../subscription.js';
import type { BrokerStore } from './store.js';

/**
 * Writes persistent sessions (expiry > 0) to the store. Only when their subscriptions or
 * expiry change, never per message (their messages go through the journal); the store
 * queues and batches the writes.
 */
export class SessionPersister {
  /** Clientids of the sessions the store holds. */
  private readonly stored = new Set<string>();
  /** Writes persistent sessions' messages and QoS 2 state as they change. */
  readonly journal: StoreJournal;

  constructor(
    private readonly store: BrokerStore,
    /** Whether a client is connected now (a connected session's stored expiry is 0). */
    private readonly isConnected: (clientId: string) => boolean,
  ) {
    this.journal = new StoreJournal(store);
  }

  persist(session: Session): void {
    if (session.expiryInterval === 0) {
      if (session.journal) this.journal.detach(session);
      return this.forget(session.clientId);
    }
    const header = {
      clientId: session.clientId,
      createdAt: session.createdAt,
      expiryInterval: session.expiryInterval,
      expiresAt: this.isConnected(session.clientId) ? 0 : session.expiresAt,
    };
    if (!session.journal) this.journal.attach(session);
    // stored already: its subscriptions are too (kept row by row, see persistSubscription)
    if (this.stored.has(session.clientId)) return this.store.updateSession(header);
    this.stored.add(session.clientId);
    this.store.putSession({ ...header, subscriptions: [...session.subscriptions] });
  }

  /** One subscription changed (`opts` undefined: removed): one row, not the session's whole list. */
  persistSubscription(session: Session, fullFilter: string, opts: SubOptions | undefined): void {
    if (!this.stored.has(session.clientId)) return this.persist(session);
    if (opts) this.store.putSubscription(session.clientId, fullFilter, opts);
    else this.store.deleteSubscription(session.clientId, fullFilter);
  }

  /** The session no longer lives here (ended, or moved to another node): its rows go. */
  drop(session: Session): void {
    if (session.journal) this.journal.detach(session);
    this.forget(session.clientId);
  }

  /** A session read back from the store at start. */
  markStored(clientId: string): void {
    this.stored.add(clientId);
  }

  private forget(clientId: string): void {
    if (this.stored.delete(clientId)) this.store.deleteSession(clientId);
  }
}

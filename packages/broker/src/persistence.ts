import type { Message } from './message.js';
import type { SubOptions } from './subscription.js';

/** What a store keeps of one persistent session (expiry > 0). */
export interface PersistedSession {
  clientId: string;
  createdAt: number;
  /** Seconds; 0xFFFFFFFF = never expires. */
  expiryInterval: number;
  /**
   * When the session expires if nobody reconnects, ms since the epoch; 0 while a client is
   * connected (after a crash the expiry then counts from the restart).
   */
  expiresAt: number;
  subscriptions: [string, SubOptions][];
}

/** Everything a store hands back at start. */
export interface StoredState {
  retained: Message[];
  sessions: PersistedSession[];
}

/** Where the retainer's changes go. */
export interface RetainedStore {
  putRetained(msg: Message): void;
  deleteRetained(topic: string): void;
}

/**
 * Where a node keeps what must survive a restart (the store package implements it on the data
 * dir). Writes only queue and return: the store commits them in batches off the event loop, so
 * nothing here costs a Promise or a disk write per message.
 */
export interface BrokerStore extends RetainedStore {
  /** A short description for logs, e.g. the database file. */
  readonly location: string;
  /** What was saved before; read once, before the listeners open. */
  load(): Promise<StoredState>;
  putSession(s: PersistedSession): void;
  deleteSession(clientId: string): void;
  /** Resolves once every write queued so far is on disk. */
  flush(): Promise<void>;
  /** Flushes and closes. */
  close(): Promise<void>;
}

/** Nothing survives a restart: tests, benchmarks and `durable_storage.backend: memory`. */
export class MemoryStore implements BrokerStore {
  readonly location = 'memory';
  async load(): Promise<StoredState> {
    return { retained: [], sessions: [] };
  }
  putRetained(): void {}
  deleteRetained(): void {}
  putSession(): void {}
  deleteSession(): void {}
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

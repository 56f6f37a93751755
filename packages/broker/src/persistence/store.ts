import type { Message } from '../message.js';
import type { Delivery } from '../session/types.js';
import type { SubOptions } from '../subscription.js';

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

/**
 * Where a message held by a persistent session stands: 0 queued (mqueue), 1 sent with a packet
 * id and waiting for PUBACK / PUBREC, 2 (QoS 2) PUBREC received, waiting for PUBCOMP.
 */
export type DeliveryState = 0 | 1 | 2;

/** One message a persistent session holds, as stored. */
export interface StoredDelivery {
  clientId: string;
  /** Node-wide number, increasing: the order within the session. */
  seq: number;
  /** Packet id while inflight, else 0. */
  pid: number;
  state: DeliveryState;
  delivery: Delivery;
}

/** Everything a store hands back at start. */
export interface StoredState {
  retained: Message[];
  sessions: PersistedSession[];
  /** Ordered by clientId, then seq. */
  deliveries: StoredDelivery[];
  /** Incoming QoS 2 packet ids awaiting PUBREL, with when they arrived. */
  awaitingRel: { clientId: string; pid: number; at: number }[];
  /** Will messages waiting for their delay, with when they are due (ms since the epoch). */
  wills: { clientId: string; msg: Message; fireAt: number }[];
}

/** Where the will scheduler's delayed wills go. */
export interface WillStore {
  putWill(clientId: string, msg: Message, fireAt: number): void;
  deleteWill(clientId: string): void;
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
export interface BrokerStore extends RetainedStore, WillStore {
  /** A short description for logs, e.g. the database file. */
  readonly location: string;
  /**
   * True when acknowledgements to publishers must wait for the commit of what their message
   * caused (`durability: durable`); false for `relaxed` and for memory.
   */
  readonly durable: boolean;
  /** How many writes were queued so far: a caller compares before and after an action to see if it wrote. */
  readonly queued: number;
  /** What was saved before; read once, before the listeners open. */
  load(): Promise<StoredState>;
  /** Writes a session and replaces its stored subscriptions with `s.subscriptions` (a session stored for the first time). */
  putSession(s: PersistedSession): void;
  /** Rewrites a stored session's expiry fields; its subscriptions stay as stored (no write per subscription). */
  updateSession(s: Omit<PersistedSession, 'subscriptions'>): void;
  /** Adds or replaces one subscription of a stored session (SUBSCRIBE writes only the row it changes). */
  putSubscription(clientId: string, filter: string, opts: SubOptions): void;
  deleteSubscription(clientId: string, filter: string): void;
  /** Also removes the session's subscriptions, messages and awaiting-PUBREL ids. */
  deleteSession(clientId: string): void;
  /** `seq` is unique on the node (a store may key writes not yet committed by it alone). */
  putDelivery(clientId: string, seq: number, pid: number, state: DeliveryState, d: Delivery): void;
  setDeliveryState(clientId: string, seq: number, pid: number, state: DeliveryState): void;
  deleteDelivery(clientId: string, seq: number): void;
  putAwaitingRel(clientId: string, pid: number, at: number): void;
  deleteAwaitingRel(clientId: string, pid: number): void;
  /**
   * Calls `fn(arg, ok)` once everything queued so far is committed (`ok` false when the commit
   * failed), in the order of the calls. A function and a number, not a Promise: this runs per message.
   */
  afterCommit(fn: (arg: number, ok: boolean) => void, arg: number): void;
  /** Resolves once every write queued so far is on disk. */
  flush(): Promise<void>;
  /** Flushes and closes. */
  close(): Promise<void>;
}

/** Nothing survives a restart: tests, benchmarks and `durable_storage.backend: memory`. */
export class MemoryStore implements BrokerStore {
  readonly location = 'memory';
  readonly durable = false;
  readonly queued = 0;
  async load(): Promise<StoredState> {
    return { retained: [], sessions: [], deliveries: [], awaitingRel: [], wills: [] };
  }
  putRetained(): void {}
  deleteRetained(): void {}
  putSession(): void {}
  updateSession(): void {}
  putSubscription(): void {}
  deleteSubscription(): void {}
  deleteSession(): void {}
  putDelivery(): void {}
  setDeliveryState(): void {}
  deleteDelivery(): void {}
  putWill(): void {}
  deleteWill(): void {}
  putAwaitingRel(): void {}
  deleteAwaitingRel(): void {}
  afterCommit(fn: (arg: number, ok: boolean) => void, arg: number): void {
    fn(arg, true);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

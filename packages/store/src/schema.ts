/** The database layout, shared by the loader and the writer thread, and what crosses between the two threads. */
export const SCHEMA = `
create table if not exists retained (topic text primary key, msg blob not null) without rowid;
create table if not exists sessions (clientid text primary key, state blob not null) without rowid;
create table if not exists subscriptions (clientid text not null, filter text not null, opts blob not null, primary key (clientid, filter)) without rowid;
create table if not exists deliveries (clientid text not null, seq integer not null, pid integer not null, state integer not null, d blob not null, primary key (clientid, seq)) without rowid;
create table if not exists wills (clientid text primary key, fire_at integer not null, msg blob not null) without rowid;
create table if not exists awaiting_rel (clientid text not null, pid integer not null, at integer not null, primary key (clientid, pid)) without rowid;
`;

/** The database file inside the data dir. */
export const DB_FILE = 'vireo.db';

/**
 * A batch is one buffer of operations, each an op code and its fields (see batch.ts), so
 * thousands of writes cross to the writer thread as one transferred buffer.
 */
export const OP = {
  putRetained: 1,
  deleteRetained: 2,
  putSession: 3,
  deleteSession: 4,
  putDelivery: 5,
  setDeliveryState: 6,
  deleteDelivery: 7,
  putAwaitingRel: 8,
  deleteAwaitingRel: 9,
  putWill: 10,
  deleteWill: 11,
  updateSession: 12,
  putSubscription: 13,
  deleteSubscription: 14,
} as const;

export type ToWriter = { type: 'batch'; seq: number; buf: Uint8Array } | { type: 'close' };

/**
 * `applied`: the batch is committed (the next may come); `synced`: every batch up to `seq`
 * is on disk (fsync'd); `failed`: batch `seq` (or the sync) failed, nothing up to it is sure.
 */
export type FromWriter = { type: 'applied'; seq: number } | { type: 'synced'; seq: number } | { type: 'failed'; seq: number; error: string } | { type: 'closed' };

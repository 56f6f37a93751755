/** The database layout, shared by the loader and the writer thread. */
export const SCHEMA = `
create table if not exists retained (topic text primary key, msg blob not null) without rowid;
create table if not exists sessions (clientid text primary key, state blob not null) without rowid;
create table if not exists deliveries (clientid text not null, seq integer not null, pid integer not null, state integer not null, d blob not null, primary key (clientid, seq)) without rowid;
create table if not exists wills (clientid text primary key, fire_at integer not null, msg blob not null) without rowid;
create table if not exists awaiting_rel (clientid text not null, pid integer not null, at integer not null, primary key (clientid, pid)) without rowid;
`;

/** The database file inside the data dir. */
export const DB_FILE = 'vireo.db';

/**
 * One queued write. Tuples, not objects: a batch of thousands crosses to the writer thread
 * as one structured clone.
 */
import type { DeliveryRecord } from './records.js';

export type Op =
  | ['putRetained', string, Buffer]
  | ['deleteRetained', string]
  | ['putSession', string, Buffer]
  | ['deleteSession', string]
  | ['putDelivery', string, number, number, number, DeliveryRecord]
  | ['setDeliveryState', string, number, number, number]
  | ['deleteDelivery', string, number]
  | ['putAwaitingRel', string, number, number]
  | ['deleteAwaitingRel', string, number]
  | ['putWill', string, number, Buffer]
  | ['deleteWill', string];

export type ToWriter = { type: 'batch'; seq: number; ops: Op[] } | { type: 'close' };
export type FromWriter = { type: 'committed'; seq: number } | { type: 'failed'; seq: number; error: string } | { type: 'closed' };

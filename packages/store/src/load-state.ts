/**
 * Reads a store file's whole state, once, at start, on the main thread; a damaged file or an
 * unreadable row stops start-up naming the file and the row (Vireo never empties a store).
 */
import Database from 'better-sqlite3';
import type { DeliveryState, Message, PersistedSession, StoredDelivery, StoredState } from '@vireo/broker';
import { describeError, StoreError } from './errors.js';
import { decodeDelivery, decodeMessage, decodeSession, decodeSubOptions, encodeSession, encodeSubOptions } from './records.js';
import { SCHEMA } from './schema.js';

export function readState(file: string): StoredState {
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    // never start on a damaged file (and never empty it): the operator decides what to do
    const check = db.pragma('quick_check', { simple: true }) as unknown;
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check).split('\n').slice(0, 3).join('; ')}`);
    db.exec(SCHEMA);
    const retained: Message[] = [];
    for (const row of db.prepare('select topic, msg from retained').iterate() as Iterable<{ topic: string; msg: Buffer }>) {
      retained.push(decodeRow(() => decodeMessage(row.msg, 0), `retained message ${row.topic}`));
    }
    const sessions: PersistedSession[] = [];
    for (const row of db.prepare('select clientid, state from sessions').iterate() as Iterable<{ clientid: string; state: Buffer }>) {
      sessions.push(decodeRow(() => decodeSession(row.state), `session ${row.clientid}`));
    }
    moveSubscriptionsToRows(db, sessions);
    const byClient = new Map(sessions.map((p) => [p.clientId, p]));
    type SubRow = { clientid: string; filter: string; opts: Buffer };
    for (const row of db.prepare('select clientid, filter, opts from subscriptions').iterate() as Iterable<SubRow>) {
      const opts = decodeRow(() => decodeSubOptions(row.opts), `subscription ${row.filter} of session ${row.clientid}`);
      byClient.get(row.clientid)?.subscriptions.push([row.filter, opts]);
    }
    const deliveries: StoredDelivery[] = [];
    type DeliveryRow = { clientid: string; seq: number; pid: number; state: number; d: Buffer };
    for (const row of db.prepare('select clientid, seq, pid, state, d from deliveries order by clientid, seq').iterate() as Iterable<DeliveryRow>) {
      const delivery = decodeRow(() => decodeDelivery(row.d), `message ${row.seq} of session ${row.clientid}`);
      deliveries.push({ clientId: row.clientid, seq: row.seq, pid: row.pid, state: row.state as DeliveryState, delivery });
    }
    const awaitingRel = db.prepare('select clientid as clientId, pid, at from awaiting_rel').all() as StoredState['awaitingRel'];
    const wills: StoredState['wills'] = [];
    for (const row of db.prepare('select clientid, fire_at, msg from wills').iterate() as Iterable<{ clientid: string; fire_at: number; msg: Buffer }>) {
      wills.push({ clientId: row.clientid, fireAt: row.fire_at, msg: decodeRow(() => decodeMessage(row.msg, 0), `will of ${row.clientid}`) });
    }
    return { retained, sessions, deliveries, awaitingRel, wills };
  } catch (err) {
    throw new StoreError(`cannot use the store ${file}: ${describeError(err)}. Restore it from a backup or move it away ` + `(Vireo never empties a store by itself)`);
  } finally {
    db?.close();
  }
}

/**
 * Data dirs of earlier versions keep a session's subscriptions inside its row: they move to
 * rows of their own, once, so that later writes of the session row do not drop them.
 */
function moveSubscriptionsToRows(db: Database.Database, sessions: PersistedSession[]): void {
  const old = sessions.filter((p) => p.subscriptions.length > 0);
  if (old.length === 0) return;
  const put = db.prepare('insert or replace into subscriptions (clientid, filter, opts) values (?, ?, ?)');
  const row = db.prepare('update sessions set state = ? where clientid = ?');
  db.transaction(() => {
    for (const p of old) {
      for (const [filter, opts] of p.subscriptions) put.run(p.clientId, filter, encodeSubOptions(opts));
      row.run(encodeSession(p), p.clientId);
      p.subscriptions = [];
    }
  })();
}

function decodeRow<T>(decode: () => T, what: string): T {
  try {
    return decode();
  } catch (err) {
    throw new Error(`unreadable ${what}: ${describeError(err)}`);
  }
}

/**
 * Record tables (built-in users, bans, API keys) in the node's database, `vireo.db`, beside
 * retained messages and sessions, so one file holds the node's state. They use their own
 * connection on the main thread: writes are rare, small and must be on disk before the API
 * answers, so they commit synchronously (WAL, synchronous=FULL) rather than through the
 * batched writer thread. SQLite's busy timeout lets the two connections take turns.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import type { RecordTable, RecordTables } from '@vireo/broker';
import { describeError, StoreError } from './errors.js';
import { DB_FILE } from './schema.js';

const RECORDS_SCHEMA = 'create table if not exists records (tbl text not null, key text not null, value text not null, primary key (tbl, key)) without rowid';

/** Opens the tables in `dataDir` (call after the store has claimed the data dir). */
export function openRecordTables(dataDir: string): RecordTables {
  const file = path.resolve(dataDir, DB_FILE);
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(RECORDS_SCHEMA);
  } catch (err) {
    throw new StoreError(`cannot use the store ${file}: ${describeError(err)}`);
  }
  const all = db.prepare<[string], { key: string; value: string }>('select key, value from records where tbl = ? order by key');
  const put = db.prepare<[string, string, string]>('insert or replace into records (tbl, key, value) values (?, ?, ?)');
  const del = db.prepare<[string, string]>('delete from records where tbl = ? and key = ?');
  return {
    table(name: string): RecordTable {
      return {
        entries: () => all.all(name).map((r) => [r.key, r.value]),
        put: (key, value) => void put.run(name, key, value),
        delete: (key) => void del.run(name, key),
      };
    },
    close: () => db.close(),
  };
}

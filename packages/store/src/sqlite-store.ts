/**
 * The durable store on a node's data dir: SQLite (better-sqlite3) in WAL mode. The state is
 * read once at start on the main thread; from then on writes queue here and a writer thread
 * commits them in batches (group commit), so the event loop never waits on fsync.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { BrokerStore, Message, PersistedSession, StoredState } from '@vireo/broker';
import { describeError, StoreError } from './errors.js';
import { claimDataDir, type IdentityResult } from './node-identity.js';
import { decodeMessage, decodeSession, encodeMessage, encodeSession } from './records.js';
import { DB_FILE, SCHEMA, type FromWriter, type Op, type ToWriter } from './schema.js';

export interface OpenStoreOptions {
  dataDir: string;
  nodeName: string;
  /** Adopt a data dir that belongs to another node name. */
  force: boolean;
  /** Called when a write fails after start (disk full, I/O error). */
  onError?: (message: string) => void;
}

export interface OpenedStore {
  store: SqliteStore;
  identity: IdentityResult;
}

/** Opens (or creates) the store; throws StoreError naming the file when it cannot be used. */
export function openSqliteStore(options: OpenStoreOptions): OpenedStore {
  const identity = claimDataDir(options.dataDir, options.nodeName, options.force);
  const file = path.resolve(options.dataDir, DB_FILE);
  const state = readState(file);
  const worker = new Worker(new URL('./store-writer.js', import.meta.url), { workerData: { file } });
  return { store: new SqliteStore(file, state, worker, options.onError ?? (() => {})), identity };
}

function readState(file: string): StoredState {
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
    return { retained, sessions };
  } catch (err) {
    throw new StoreError(
      `cannot use the store ${file}: ${describeError(err)}. Restore it from a backup or move it away ` +
        `(Vireo never empties a store by itself)`,
    );
  } finally {
    db?.close();
  }
}

function decodeRow<T>(decode: () => T, what: string): T {
  try {
    return decode();
  } catch (err) {
    throw new Error(`unreadable ${what}: ${describeError(err)}`);
  }
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SqliteStore implements BrokerStore {
  private ops: Op[] = [];
  private scheduled = false;
  /** One batch at the writer at a time: what arrives meanwhile forms the next one (group commit). */
  private writing = false;
  private sent = 0;
  private waiters: Waiter[] = [];
  private closing: Promise<void> | undefined;
  private state: StoredState | undefined;

  constructor(
    readonly location: string,
    state: StoredState,
    private readonly worker: Worker,
    private readonly onError: (message: string) => void,
  ) {
    this.state = state;
    worker.on('message', (m: FromWriter) => this.onWriter(m));
    worker.on('error', (err) => this.onError(`store writer thread for ${location} failed: ${describeError(err)}`));
    // the writer keeps the process alive only while it has work (see send / onWriter)
    worker.unref();
  }

  async load(): Promise<StoredState> {
    const state = this.state ?? { retained: [], sessions: [] };
    this.state = undefined; // read once; let it be collected
    return state;
  }

  putRetained(msg: Message): void {
    this.queue(['putRetained', msg.topic, encodeMessage(msg)]);
  }

  deleteRetained(topic: string): void {
    this.queue(['deleteRetained', topic]);
  }

  putSession(s: PersistedSession): void {
    this.queue(['putSession', s.clientId, encodeSession(s)]);
  }

  deleteSession(clientId: string): void {
    this.queue(['deleteSession', clientId]);
  }

  flush(): Promise<void> {
    let seq: number;
    if (this.ops.length > 0) seq = this.sent + 1;
    else if (this.writing) seq = this.sent;
    else return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  close(): Promise<void> {
    this.closing ??= this.flush()
      .catch(() => {}) // already reported through onError
      .then(
        () =>
          new Promise<void>((resolve) => {
            this.worker.once('exit', () => resolve());
            this.worker.ref();
            this.post({ type: 'close' });
          }),
      );
    return this.closing;
  }

  private queue(op: Op): void {
    this.ops.push(op);
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      // everything queued in this turn of the event loop goes in one transaction
      setImmediate(this.send);
    }
  }

  private readonly send = (): void => {
    this.scheduled = false;
    if (this.writing || this.ops.length === 0) return;
    const ops = this.ops;
    this.ops = [];
    this.writing = true;
    this.worker.ref();
    this.post({ type: 'batch', seq: ++this.sent, ops });
  };

  private post(m: ToWriter): void {
    this.worker.postMessage(m);
  }

  private onWriter(m: FromWriter): void {
    if (m.type === 'closed') return;
    this.writing = false;
    const failed = m.type === 'failed' ? new Error(`writing to ${this.location} failed: ${m.error}`) : undefined;
    if (failed) this.onError(failed.message);
    if (this.waiters.length > 0) {
      const still: Waiter[] = [];
      for (const w of this.waiters) {
        if (w.seq > m.seq) still.push(w);
        else if (failed) w.reject(failed);
        else w.resolve();
      }
      this.waiters = still;
    }
    if (this.ops.length > 0) this.send();
    else this.worker.unref();
  }
}

/**
 * The durable store on a node's data dir: SQLite (better-sqlite3) in WAL mode. The state is
 * read once at start on the main thread; from then on writes queue here and a writer thread
 * commits them in batches (group commit), so the event loop never waits on fsync.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { BrokerStore, Delivery, DeliveryState, Message, PersistedSession, StoredDelivery, StoredState } from '@vireo/broker';
import { describeError, StoreError } from './errors.js';
import { claimDataDir, type IdentityResult } from './node-identity.js';
import { decodeDelivery, decodeMessage, decodeSession, deliveryRecord, encodeMessage, encodeSession } from './records.js';
import { DB_FILE, SCHEMA, type FromWriter, type Op, type ToWriter } from './schema.js';

export interface OpenStoreOptions {
  dataDir: string;
  nodeName: string;
  /** Adopt a data dir that belongs to another node name. */
  force: boolean;
  /**
   * `durable` (default): commit as soon as the previous commit is done, and let publishers'
   * acks wait for it; `relaxed`: acks do not wait, commits happen every `flushInterval` ms.
   */
  durability?: 'durable' | 'relaxed';
  /** For `relaxed`: the longest a write waits before its commit starts, ms (default 100). */
  flushInterval?: number;
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
  const durable = (options.durability ?? 'durable') === 'durable';
  const store = new SqliteStore(file, state, worker, options.onError ?? (() => {}), durable, options.flushInterval ?? 100);
  return { store, identity };
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

/** A queued write; a delivery stays an object until its batch leaves (it may be cancelled first). */
type Pending = Op | ['putDelivery', string, number, number, number, Delivery] | null;

export class SqliteStore implements BrokerStore {
  private ops: Pending[] = [];
  /** seq (node-wide, see StoreJournal) → index in `ops` of a delivery put not sent yet. */
  private pendingPuts = new Map<number, number>();
  private scheduled = false;
  /** One batch at the writer at a time: what arrives meanwhile forms the next one (group commit). */
  private writing = false;
  private sent = 0;
  /** Writes queued so far (see BrokerStore.queued). */
  queued = 0;
  // afterCommit callbacks as parallel arrays (no object per message), consumed from `cbHead`
  private cbSeq: number[] = [];
  private cbFn: ((arg: number, ok: boolean) => void)[] = [];
  private cbArg: number[] = [];
  private cbHead = 0;
  private closing: Promise<void> | undefined;
  private state: StoredState | undefined;

  constructor(
    readonly location: string,
    state: StoredState,
    private readonly worker: Worker,
    private readonly onError: (message: string) => void,
    readonly durable: boolean,
    private readonly flushInterval: number,
  ) {
    this.state = state;
    worker.on('message', (m: FromWriter) => this.onWriter(m));
    worker.on('error', (err) => this.onError(`store writer thread for ${location} failed: ${describeError(err)}`));
    // the writer keeps the process alive only while it has work (see send / onWriter)
    worker.unref();
  }

  async load(): Promise<StoredState> {
    const state = this.state ?? { retained: [], sessions: [], deliveries: [], awaitingRel: [], wills: [] };
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

  putDelivery(clientId: string, seq: number, pid: number, state: DeliveryState, d: Delivery): void {
    this.pendingPuts.set(seq, this.ops.length);
    this.queue(['putDelivery', clientId, seq, pid, state, d]);
  }

  setDeliveryState(clientId: string, seq: number, pid: number, state: DeliveryState): void {
    const i = this.pendingPuts.get(seq);
    if (i === undefined) return this.queue(['setDeliveryState', clientId, seq, pid, state]);
    const op = this.ops[i] as ['putDelivery', string, number, number, number, Delivery];
    op[3] = pid;
    op[4] = state;
    this.queued++;
  }

  deleteDelivery(clientId: string, seq: number): void {
    // acknowledged before its put left: neither is written (the common case for online subscribers)
    const i = this.pendingPuts.get(seq);
    if (i === undefined) return this.queue(['deleteDelivery', clientId, seq]);
    this.pendingPuts.delete(seq);
    this.ops[i] = null;
    this.queued++;
  }

  putWill(clientId: string, msg: Message, fireAt: number): void {
    this.queue(['putWill', clientId, fireAt, encodeMessage(msg)]);
  }

  deleteWill(clientId: string): void {
    this.queue(['deleteWill', clientId]);
  }

  putAwaitingRel(clientId: string, pid: number, at: number): void {
    this.queue(['putAwaitingRel', clientId, pid, at]);
  }

  deleteAwaitingRel(clientId: string, pid: number): void {
    this.queue(['deleteAwaitingRel', clientId, pid]);
  }

  afterCommit(fn: (arg: number, ok: boolean) => void, arg: number): void {
    let seq: number;
    if (this.ops.length > 0) {
      seq = this.sent + 1;
      // someone waits: in relaxed mode too, do not let it wait for the interval
      if (this.timer) this.sendNow();
    } else if (this.writing) seq = this.sent;
    else return fn(arg, true);
    this.cbSeq.push(seq);
    this.cbFn.push(fn);
    this.cbArg.push(arg);
  }

  flush(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.afterCommit((_, ok) => (ok ? resolve() : reject(new Error(`writing to ${this.location} failed`))), 0),
    );
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

  private timer: NodeJS.Timeout | undefined;

  private queue(op: Op): void {
    this.ops.push(op);
    this.queued++;
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      // durable: everything queued in this turn of the event loop goes in one transaction;
      // relaxed: everything queued within the flush interval
      if (this.durable) setImmediate(this.send);
      else this.timer = setTimeout(this.send, this.flushInterval);
    }
  }

  private sendNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.send();
  }

  private readonly send = (): void => {
    this.scheduled = false;
    this.timer = undefined;
    if (this.writing || this.ops.length === 0) return;
    const ops: Op[] = [];
    for (const op of this.ops) {
      if (op === null) continue;
      if (op[0] === 'putDelivery') ops.push(['putDelivery', op[1], op[2], op[3], op[4], deliveryRecord(op[5] as Delivery)]);
      else ops.push(op as Op);
    }
    this.ops = [];
    this.pendingPuts.clear();
    if (ops.length === 0) {
      // everything cancelled out: nothing to write, but callbacks wait for this "commit"
      this.sent++;
      this.runCallbacks(this.sent, true);
      return;
    }
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
    this.runCallbacks(m.seq, !failed);
    // group commit: what queued while this batch was written goes now (relaxed: on its timer)
    if (this.ops.length > 0) {
      if (this.durable || this.cbHead < this.cbSeq.length) this.sendNow();
      else if (!this.scheduled) {
        this.scheduled = true;
        this.timer = setTimeout(this.send, this.flushInterval);
      }
    } else this.worker.unref();
  }

  private runCallbacks(seq: number, ok: boolean): void {
    let i = this.cbHead;
    const n = this.cbSeq.length;
    while (i < n && this.cbSeq[i]! <= seq) {
      const fn = this.cbFn[i]!;
      const arg = this.cbArg[i]!;
      this.cbFn[i] = noop; // let the closure go
      i++;
      this.cbHead = i;
      fn(arg, ok);
    }
    if (this.cbHead === this.cbSeq.length) {
      this.cbSeq.length = 0;
      this.cbFn.length = 0;
      this.cbArg.length = 0;
      this.cbHead = 0;
    } else if (this.cbHead > 4096) {
      this.cbSeq = this.cbSeq.slice(this.cbHead);
      this.cbFn = this.cbFn.slice(this.cbHead);
      this.cbArg = this.cbArg.slice(this.cbHead);
      this.cbHead = 0;
    }
  }
}

function noop(): void {}

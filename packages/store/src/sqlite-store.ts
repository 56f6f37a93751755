/**
 * The durable store on a node's data dir: SQLite (better-sqlite3) in WAL mode. The state is
 * read once at start on the main thread; from then on writes queue here and a writer thread
 * commits them in batches (group commit), so the event loop never waits on fsync.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BrokerStore, Delivery, DeliveryState, Message, PersistedSession, StoredState, SubOptions } from '@vireo/broker';
import { describeError } from './errors.js';
import { claimDataDir, type IdentityResult } from './node-identity.js';
import { ByteWriter } from './bytes.js';
import { encodeSession, writeDelivery } from './records.js';
import { DB_FILE, OP, type FromWriter, type ToWriter } from './schema.js';
import { readState } from './load-state.js';
import { encodeOp, type Pending } from './batch-ops.js';

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

export class SqliteStore implements BrokerStore {
  /**
   * Queued writes, `ops[0..opsN)`. This array and the put columns below are kept from batch
   * to batch (only their counts reset): with `relaxed` they grow for a whole flush
   * interval, and fresh arrays each time were copied by every young-generation GC meanwhile.
   */
  private ops: (Pending | number)[] = [];
  private opsN = 0;
  private putN = 0;
  /**
   * Delivery puts not sent yet, by slot, in columns: no object per message (with `relaxed`
   * they wait up to the flush interval, long enough for a tuple each to cost GC work). A put
   * its subscriber acknowledged before it left is cancelled (`putD[slot]` undefined) and
   * never written. The journal numbers messages as it puts them, so `putSeq` ascends and
   * the slot of seq is `seq - putSeq[0]` (a search otherwise).
   */
  private putClient: string[] = [];
  private putSeq: number[] = [];
  private putPid: number[] = [];
  private putState: number[] = [];
  private putD: (Delivery | undefined)[] = [];
  private scheduled = false;
  /**
   * A batch is being applied: what arrives meanwhile forms the next one (group commit). The
   * writer fsyncs on its own schedule; callbacks wait for `synced`.
   */
  private writing = false;
  /** Batches sent, and the last one known to be on disk. */
  private sent = 0;
  private synced = 0;
  /** Writes queued so far (see BrokerStore.queued). */
  queued = 0;
  // afterCommit callbacks as parallel arrays (no object per message), consumed from `cbHead`
  private cbSeq: number[] = [];
  private cbFn: ((arg: number, ok: boolean) => void)[] = [];
  private cbArg: number[] = [];
  private cbHead = 0;
  private closing: Promise<void> | undefined;
  private state: StoredState | undefined;
  /** Where batches are encoded; reused. */
  private readonly out = new ByteWriter();

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
    this.queue([OP.putRetained, msg]);
  }

  deleteRetained(topic: string): void {
    this.queue([OP.deleteRetained, topic]);
  }

  putSession(s: PersistedSession): void {
    this.queue([OP.putSession, s.clientId, encodeSession(s), s.subscriptions]);
  }

  updateSession(s: Omit<PersistedSession, 'subscriptions'>): void {
    this.queue([OP.updateSession, s.clientId, encodeSession(s)]);
  }

  putSubscription(clientId: string, filter: string, opts: SubOptions): void {
    this.queue([OP.putSubscription, clientId, filter, opts]);
  }

  deleteSubscription(clientId: string, filter: string): void {
    this.queue([OP.deleteSubscription, clientId, filter]);
  }

  deleteSession(clientId: string): void {
    this.queue([OP.deleteSession, clientId]);
  }

  putDelivery(clientId: string, seq: number, pid: number, state: DeliveryState, d: Delivery): void {
    const slot = this.putN++;
    this.putClient[slot] = clientId;
    this.putSeq[slot] = seq;
    this.putPid[slot] = pid;
    this.putState[slot] = state;
    this.putD[slot] = d;
    this.queue(slot);
  }

  /** The slot of the put of `seq` if it has not left and is not cancelled, else -1. */
  private pendingPut(seq: number): number {
    const seqs = this.putSeq;
    const n = this.putN;
    if (n === 0) return -1;
    let slot = seq - seqs[0]!;
    if (slot < 0 || slot >= n || seqs[slot] !== seq) {
      // not consecutive: binary search (seqs ascend)
      let lo = 0;
      let hi = n - 1;
      slot = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const v = seqs[mid]!;
        if (v === seq) {
          slot = mid;
          break;
        }
        if (v < seq) lo = mid + 1;
        else hi = mid - 1;
      }
      if (slot === -1) return -1;
    }
    return this.putD[slot] === undefined ? -1 : slot;
  }

  setDeliveryState(clientId: string, seq: number, pid: number, state: DeliveryState): void {
    const slot = this.pendingPut(seq);
    if (slot === -1) return this.queue([OP.setDeliveryState, clientId, seq, pid, state]);
    this.putPid[slot] = pid;
    this.putState[slot] = state;
    this.queued++;
  }

  deleteDelivery(clientId: string, seq: number): void {
    // acknowledged before its put left: neither is written (the common case for online subscribers)
    const slot = this.pendingPut(seq);
    if (slot === -1) return this.queue([OP.deleteDelivery, clientId, seq]);
    this.putD[slot] = undefined;
    this.queued++;
  }

  putWill(clientId: string, msg: Message, fireAt: number): void {
    this.queue([OP.putWill, clientId, fireAt, msg]);
  }

  deleteWill(clientId: string): void {
    this.queue([OP.deleteWill, clientId]);
  }

  putAwaitingRel(clientId: string, pid: number, at: number): void {
    this.queue([OP.putAwaitingRel, clientId, pid, at]);
  }

  deleteAwaitingRel(clientId: string, pid: number): void {
    this.queue([OP.deleteAwaitingRel, clientId, pid]);
  }

  afterCommit(fn: (arg: number, ok: boolean) => void, arg: number): void {
    let seq: number;
    if (this.opsN > 0) {
      seq = this.sent + 1;
      // someone waits: in relaxed mode too, do not let it wait for the interval
      if (this.timer) this.sendNow();
    } else if (this.sent > this.synced) seq = this.sent;
    else return fn(arg, true);
    this.cbSeq.push(seq);
    this.cbFn.push(fn);
    this.cbArg.push(arg);
  }

  flush(): Promise<void> {
    return new Promise((resolve, reject) => this.afterCommit((_, ok) => (ok ? resolve() : reject(new Error(`writing to ${this.location} failed`))), 0));
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

  private queue(op: Pending | number): void {
    this.ops[this.opsN++] = op;
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
    if (this.writing || this.opsN === 0) return;
    const w = this.out;
    w.reset();
    const ops = this.ops;
    for (let i = 0; i < this.opsN; i++) {
      const op = ops[i]!;
      if (typeof op !== 'number') encodeOp(w, op);
      else if (this.putD[op] !== undefined) this.encodePut(w, op);
      ops[i] = 0; // let the write's values go
    }
    for (let i = 0; i < this.putN; i++) this.putD[i] = undefined;
    if (this.opsN > 65536) {
      // after a burst, do not keep its capacity
      this.ops = [];
      this.putClient = [];
      this.putSeq = [];
      this.putPid = [];
      this.putState = [];
      this.putD = [];
    }
    this.opsN = 0;
    this.putN = 0;
    this.sent++;
    if (w.pos === 0) {
      // everything cancelled out: nothing to write, but callbacks wait for this "commit"
      if (this.synced === this.sent - 1) {
        this.synced = this.sent;
        this.runCallbacks(this.sent, true);
      }
      // else: the writer's next `synced` (for an earlier batch) is reported as covering this one
      else this.emptyBatches.push(this.sent);
      return;
    }
    this.writing = true;
    this.worker.ref();
    const buf = w.copy();
    this.worker.postMessage({ type: 'batch', seq: this.sent, buf } satisfies ToWriter, [buf.buffer as ArrayBuffer]);
  };

  private encodePut(w: ByteWriter, slot: number): void {
    w.u8(OP.putDelivery);
    w.str(this.putClient[slot]!);
    w.f64(this.putSeq[slot]!);
    w.u16(this.putPid[slot]!);
    w.u8(this.putState[slot]!);
    const at = w.begin();
    writeDelivery(w, this.putD[slot]!);
    w.end(at);
  }

  /** Batches with nothing to write, sent while earlier ones were not yet on disk: on disk with them. */
  private emptyBatches: number[] = [];

  private post(m: ToWriter): void {
    this.worker.postMessage(m);
  }

  private onWriter(m: FromWriter): void {
    if (m.type === 'closed') return;
    if (m.type === 'applied') {
      this.writing = false;
      // group commit: what queued while this batch was applied goes now (relaxed: on its timer)
      if (this.opsN > 0) {
        if (this.durable || this.cbHead < this.cbSeq.length) this.sendNow();
        else if (!this.scheduled) {
          this.scheduled = true;
          this.timer = setTimeout(this.send, this.flushInterval);
        }
      }
      return;
    }
    const ok = m.type === 'synced';
    if (!ok) {
      this.writing = false;
      this.onError(`writing to ${this.location} failed: ${m.error}`);
    }
    let upTo = m.seq;
    // empty batches right after it are on disk too
    while (this.emptyBatches.length > 0 && this.emptyBatches[0]! <= upTo + 1) upTo = Math.max(upTo, this.emptyBatches.shift()!);
    if (upTo > this.synced) this.synced = upTo;
    this.runCallbacks(upTo, ok);
    if (!ok && this.opsN > 0 && !this.scheduled) this.sendNow();
    if (!this.writing && this.opsN === 0 && this.synced >= this.sent) this.worker.unref();
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

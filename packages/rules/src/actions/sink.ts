/**
 * What every database action shares: outputs are rendered at once (a bad template fails
 * that output only) and wait in a buffer bounded in bytes; one batch at a time goes out,
 * by size or after `batchTime`; a batch the database could not take (unreachable, timed
 * out) is retried, in order, with a doubling wait up to `maxBackoff`, so a database that
 * stops and comes back loses nothing that fit in the buffer. Past the buffer, new outputs
 * are dropped, counted as the rule's `actions.failed` and logged. `send` only appends:
 * a slow or stopped database costs the broker that buffer's memory, nothing else.
 */
import type { Logger } from 'pino';
import type { Output } from '../sql/compile.js';
import type { ActionStatus, RuleAction, RuleMetrics } from './action.js';

export interface SinkOptions {
  batchSize: number;
  /** ms a batch may wait to fill up. */
  batchTime: number;
  maxBufferBytes: number;
  /** ms one write may take. */
  requestTtl: number;
  /** Longest wait between attempts while the database is down (ms). */
  maxBackoff: number;
}

/** The outcome of one item of a batch: written, refused for good (bad data), or to try again. */
export type ItemResult = 'ok' | 'failed' | 'retry';

/** A connection to a database that actions share; it knows whether it is up. */
export interface Connector {
  readonly name: string;
  readonly status: ActionStatus;
  /** Checks the connection (SELECT 1, PING, …); updates status. */
  probe(): Promise<void>;
  close(): Promise<void>;
}

/** A connector configured with `enable: false`: never connects; outputs sent to its actions fail at once. */
export class DisabledConnector implements Connector {
  readonly status: ActionStatus = 'disconnected';
  readonly disabled = true;
  constructor(readonly name: string) {}
  async probe(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface SinkStats {
  queued: number;
  queuedBytes: number;
  success: number;
  failed: number;
  /** Outputs dropped because the buffer was full. */
  dropped: number;
  retried: number;
}

interface Item<T> {
  value: T;
  bytes: number;
  metrics: RuleMetrics;
}

export abstract class Sink<T> implements RuleAction {
  private items: Item<T>[] = [];
  private head = 0;
  private bytes = 0;
  private busy = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private backoff = 0;
  private lastDropLog = 0;
  private lastError: string | undefined;
  readonly stats: SinkStats = { queued: 0, queuedBytes: 0, success: 0, failed: 0, dropped: 0, retried: 0 };

  constructor(
    /** `<type>:<name>`, as rules name it. */
    readonly id: string,
    readonly connector: Connector,
    protected readonly options: SinkOptions,
    protected readonly logger: Logger,
  ) {}

  /** The value to write for one output, and its size in bytes (what the buffer counts). Throws for a bad output. */
  protected abstract render(out: Output): { value: T; bytes: number };
  /** Writes a batch; one result per item, in order. Throwing means every item is to be retried. */
  protected abstract write(batch: T[], signal: AbortSignal): Promise<ItemResult[]>;

  get status(): ActionStatus {
    return this.connector.status;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  send(out: Output, metrics: RuleMetrics, ruleId: string): void {
    if (this.closed) return;
    if (this.connector instanceof DisabledConnector) {
      metrics['actions.failed']++;
      this.stats.failed++;
      return;
    }
    let r: { value: T; bytes: number };
    try {
      r = this.render(out);
    } catch (err) {
      metrics['actions.failed']++;
      this.stats.failed++;
      this.logger.warn({ action: this.id, rule_id: ruleId, err: (err as Error).message }, 'Rule output could not be rendered for the action');
      return;
    }
    if (this.bytes + r.bytes > this.options.maxBufferBytes) {
      metrics['actions.failed']++;
      this.stats.dropped++;
      const now = Date.now();
      if (now - this.lastDropLog > 1000) {
        this.lastDropLog = now;
        this.logger.warn(
          { action: this.id, rule_id: ruleId, max_buffer_bytes: this.options.maxBufferBytes, dropped: this.stats.dropped, status: this.status },
          'Action buffer full, output dropped',
        );
      }
      return;
    }
    this.items.push({ value: r.value, bytes: r.bytes, metrics });
    this.bytes += r.bytes;
    this.updateStats();
    this.schedule();
  }

  private get length(): number {
    return this.items.length - this.head;
  }

  private schedule(): void {
    if (this.busy || this.timer || this.closed) return;
    if (this.length >= this.options.batchSize || this.options.batchTime === 0) {
      this.busy = true;
      setImmediate(() => void this.pump());
    } else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.busy = true;
        void this.pump();
      }, this.options.batchTime);
    }
  }

  private async pump(): Promise<void> {
    while (!this.closed && this.length > 0) {
      const n = Math.min(this.options.batchSize, this.length);
      const batch = this.items.slice(this.head, this.head + n);
      let results: ItemResult[];
      try {
        results = await this.writeWithin(batch.map((i) => i.value));
        this.lastError = undefined;
      } catch (err) {
        this.lastError = (err as Error).message;
        results = batch.map(() => 'retry');
      }
      if (this.closed) return;
      // items done (ok or failed for good) leave the buffer; the first to retry and those after it stay, in order
      let done = 0;
      while (done < n && results[done] !== 'retry') {
        const item = batch[done]!;
        if (results[done] === 'ok') {
          item.metrics['actions.success']++;
          this.stats.success++;
        } else {
          item.metrics['actions.failed']++;
          this.stats.failed++;
        }
        this.bytes -= item.bytes;
        this.items[this.head++] = undefined as unknown as Item<T>;
        done++;
      }
      this.compact();
      this.updateStats();
      if (done < n) {
        this.stats.retried++;
        this.backoff = Math.min(this.options.maxBackoff, this.backoff === 0 ? 100 : this.backoff * 2);
        if (this.backoff >= this.options.maxBackoff || this.stats.retried % 20 === 1) {
          this.logger.warn({ action: this.id, queued: this.length, retry_in_ms: this.backoff, err: this.lastError }, 'Action write failed, will retry');
        }
        await new Promise<void>((resolve) => {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            resolve();
          }, this.backoff);
        });
        continue;
      }
      this.backoff = 0;
      // a partial batch waits for more (up to batchTime) instead of going out alone
      if (this.length > 0 && this.length < this.options.batchSize && this.options.batchTime > 0) break;
    }
    this.busy = false;
    if (this.length > 0 && !this.closed) this.schedule();
  }

  /** A write that has not answered within requestTtl counts as failed (to retry), whatever the client does. */
  private writeWithin(batch: T[]): Promise<ItemResult[]> {
    const signal = AbortSignal.timeout(this.options.requestTtl);
    return new Promise<ItemResult[]>((resolve, reject) => {
      const onAbort = () => reject(new Error(`no answer within request_ttl (${this.options.requestTtl} ms)`));
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      let p: Promise<ItemResult[]>;
      try {
        p = this.write(batch, signal);
      } catch (err) {
        done();
        reject(err as Error);
        return;
      }
      p.then(
        (r) => (done(), resolve(r)),
        (e: unknown) => (done(), reject(e instanceof Error ? e : new Error(String(e)))),
      );
    });
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head > this.items.length / 2) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  private updateStats(): void {
    this.stats.queued = this.length;
    this.stats.queuedBytes = this.bytes;
  }

  /** Stops sending; what is still buffered is dropped (counted as failed). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (let i = this.head; i < this.items.length; i++) this.items[i]!.metrics['actions.failed']++;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    this.updateStats();
  }
}

/** The action of a disabled connector: every output fails at once (counted), nothing is buffered. */
export class DisabledSink extends Sink<never> {
  protected render(): { value: never; bytes: number } {
    throw new Error(`the connector of ${this.id} is disabled (enable: false)`);
  }
  protected write(): Promise<ItemResult[]> {
    return Promise.resolve([]);
  }
}

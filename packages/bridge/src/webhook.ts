/**
 * One webhook: broker events → JSON POSTs to a URL. Events are serialized when they happen
 * and wait in a queue bounded in events and in bytes (the oldest are dropped when it is
 * full, EMQX's `queue_full`); they go out in batches, one request at a time, with a timeout
 * and retries with exponential backoff. The broker only ever appends to the queue, so a
 * slow or dead endpoint costs it nothing but that queue's memory.
 */
import type { Logger } from 'pino';
import { topicMatches } from '@vireo/mqtt';
import type { Broker, ClientInfo, ConnackInfo, Message, SubOptions } from '@vireo/broker';
import * as ev from './webhook-events.js';
import { httpRequest } from './http-request.js';
import type { Body, PayloadEncoding, WebhookEvent } from './webhook-events.js';

export interface WebhookOptions {
  name: string;
  url: string;
  events: readonly WebhookEvent[];
  /** Only events about topics matching this filter (message and subscription events); `#` = all but `$`-topics. */
  topic: string;
  headers: Record<string, string>;
  /** Events per request; 1 sends one JSON object, more send a JSON array. */
  batchSize: number;
  maxQueue: number;
  /** Bytes of JSON the queue may hold (the batch in flight aside); 0 or absent = no byte limit. */
  maxQueueBytes?: number;
  /** ms */
  requestTimeout: number;
  maxRetries: number;
  /** ms before the first retry; doubles each time. */
  retryBackoff: number;
  payloadEncoding: PayloadEncoding;
}

export interface WebhookStats {
  queued: number;
  /** Bytes of JSON waiting (the batch in flight aside). */
  queuedBytes: number;
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
}

/** How often a run of `queue_full` drops is logged (the first at once, then one line with the count). */
const DROP_LOG_MS = 5000;

export class Webhook {
  /** Waiting events as JSON, oldest at `head`. */
  private queue: string[] = [];
  private head = 0;
  private bytes = 0;
  /** The batch being sent (retries send it again); out of the queue, so drops never touch it. */
  private batch: string[] = [];
  private lastDropLog = 0;
  private droppedSinceLog = 0;
  private busy = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly node: string;
  private readonly detach: (() => void)[] = [];
  readonly stats: WebhookStats = { queued: 0, queuedBytes: 0, sent: 0, failed: 0, retried: 0, dropped: 0 };

  constructor(
    private readonly broker: Broker,
    readonly options: WebhookOptions,
    private readonly logger: Logger,
  ) {
    this.node = broker.options.nodeName;
  }

  start(): void {
    const o = this.options;
    const enc = o.payloadEncoding;
    const on = <A extends unknown[]>(event: WebhookEvent, make: (...args: A) => Body | undefined) => {
      if (!o.events.includes(event)) return;
      const handler = (...args: A) => {
        const body = make(...args);
        if (body) this.enqueue(body);
      };
      (this.broker.on as (e: string, h: (...a: A) => void) => void)(event, handler);
      this.detach.push(() => (this.broker.off as (e: string, h: (...a: A) => void) => void)(event, handler));
    };
    const wants = (topic: string) => topicMatches(o.topic, topic);
    // usernames and keepalive from the client's connection on this node, looked up only for an event that is sent
    const user = (clientId: string) => this.broker.connection(clientId)?.username ?? null;
    on('client.connack', (c: ConnackInfo) => ev.clientConnack(this.node, c));
    on('client.connected', (c: ClientInfo) => ev.clientConnected(this.node, c, this.broker.connection(c.clientId)?.keepalive ?? 0));
    on('client.disconnected', (c: ClientInfo, reason: string) => ev.clientDisconnected(this.node, c, reason));
    on('session.subscribed', (c: ClientInfo, t: string, so: SubOptions) => (wants(t) ? ev.sessionSubscribed(this.node, c, t, so) : undefined));
    on('session.unsubscribed', (c: ClientInfo, t: string) => (wants(t) ? ev.sessionUnsubscribed(this.node, c, t) : undefined));
    on('message.publish', (m: Message) => (wants(m.topic) ? ev.messagePublish(this.node, m, enc, user) : undefined));
    on('message.delivered', (id: string, m: Message) => (wants(m.topic) ? ev.messageDelivered(this.node, id, m, enc, user) : undefined));
    on('message.acked', (id: string, m: Message) => (wants(m.topic) ? ev.messageAcked(this.node, id, m, enc, user) : undefined));
    on('message.dropped', (m: Message, reason: string) => (wants(m.topic) ? ev.messageDropped(this.node, m, reason, enc, user) : undefined));
  }

  private get length(): number {
    return this.queue.length - this.head;
  }

  private enqueue(body: Body): void {
    if (this.closed) return;
    const json = JSON.stringify(body);
    // JSON of events is mostly ASCII: its length is its size in bytes, near enough for a bound
    const size = json.length;
    const { maxQueue } = this.options;
    const maxBytes = this.options.maxQueueBytes ?? 0;
    if (maxBytes > 0 && size > maxBytes) return this.dropped(1);
    let n = 0;
    while (this.length > 0 && (this.length >= maxQueue || (maxBytes > 0 && this.bytes + size > maxBytes))) {
      this.bytes -= this.queue[this.head]!.length;
      this.queue[this.head++] = '';
      n++;
    }
    if (n > 0) this.dropped(n);
    this.queue.push(json);
    this.bytes += size;
    this.updateStats();
    // send from a fresh tick: the broker's call returns at once
    if (!this.busy) {
      this.busy = true;
      setImmediate(() => void this.pump(0));
    }
  }

  /** `n` events dropped for a full queue: counted, logged at once and then once per DROP_LOG_MS with the count. */
  private dropped(n: number): void {
    this.stats.dropped += n;
    this.droppedSinceLog += n;
    const now = Date.now();
    if (now - this.lastDropLog < DROP_LOG_MS) return;
    this.lastDropLog = now;
    const o = this.options;
    this.logger.warn(
      {
        webhook: o.name,
        reason: 'queue_full',
        dropped: this.droppedSinceLog,
        max_queue: o.maxQueue,
        max_queue_bytes: o.maxQueueBytes ?? 0,
        queued: this.length,
        queued_bytes: this.bytes,
      },
      'Webhook queue full, dropping the oldest events',
    );
    this.droppedSinceLog = 0;
  }

  /** Takes the next batch out of the queue (unless a failed one is still to be retried). */
  private takeBatch(): void {
    if (this.batch.length > 0) return;
    const end = Math.min(this.head + this.options.batchSize, this.queue.length);
    this.batch = this.queue.slice(this.head, end);
    for (const j of this.batch) this.bytes -= j.length;
    this.head = end;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.updateStats();
  }

  private updateStats(): void {
    this.stats.queued = this.length;
    this.stats.queuedBytes = this.bytes;
  }

  private async pump(attempt: number): Promise<void> {
    while (!this.closed && (this.batch.length > 0 || this.length > 0)) {
      this.takeBatch();
      const batch = this.batch;
      const ok = await this.post(this.options.batchSize === 1 ? batch[0]! : `[${batch.join(',')}]`);
      if (this.closed) return;
      if (!ok) {
        if (attempt < this.options.maxRetries) {
          this.stats.retried++;
          this.retryTimer = setTimeout(() => void this.pump(attempt + 1), this.options.retryBackoff * 2 ** attempt);
          this.retryTimer.unref();
          return;
        }
        this.stats.failed += batch.length;
        this.logger.warn({ webhook: this.options.name, url: this.options.url, events: batch.length }, 'Webhook request failed after retries, events dropped');
      } else this.stats.sent += batch.length;
      this.batch = [];
      attempt = 0;
    }
    this.busy = false;
  }

  private async post(json: string): Promise<boolean> {
    const r = await httpRequest(this.options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.options.headers },
      body: json,
      signal: AbortSignal.timeout(this.options.requestTimeout),
    });
    if (r.status !== undefined && r.status >= 200 && r.status < 300) return true;
    if (r.status !== undefined) this.logger.debug({ webhook: this.options.name, status: r.status }, 'Webhook endpoint answered with an error');
    else this.logger.debug({ webhook: this.options.name, err: r.error }, 'Webhook request failed');
    return false;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const d of this.detach) d();
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
    this.batch = [];
  }
}

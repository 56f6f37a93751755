/**
 * One webhook: broker events → JSON POSTs to a URL. Events wait in a bounded queue (the
 * oldest is dropped when it is full) and go out in batches, one request at a time, with a
 * timeout and retries with exponential backoff. The broker only ever appends to the queue,
 * so a slow or dead endpoint costs it nothing but that queue's memory.
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
  /** ms */
  requestTimeout: number;
  maxRetries: number;
  /** ms before the first retry; doubles each time. */
  retryBackoff: number;
  payloadEncoding: PayloadEncoding;
}

export interface WebhookStats {
  queued: number;
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
}

export class Webhook {
  private queue: Body[] = [];
  private busy = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly node: string;
  private readonly detach: (() => void)[] = [];
  readonly stats: WebhookStats = { queued: 0, sent: 0, failed: 0, retried: 0, dropped: 0 };

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

  private enqueue(body: Body): void {
    if (this.closed) return;
    if (this.queue.length >= this.options.maxQueue) {
      this.queue.shift();
      if (this.stats.dropped++ % 1000 === 0) this.logger.warn({ webhook: this.options.name, max_queue: this.options.maxQueue }, 'Webhook queue full, dropping the oldest events');
    }
    this.queue.push(body);
    this.stats.queued = this.queue.length;
    // send from a fresh tick: the broker's call returns at once
    if (!this.busy) {
      this.busy = true;
      setImmediate(() => void this.pump(0));
    }
  }

  private async pump(attempt: number): Promise<void> {
    while (!this.closed && this.queue.length > 0) {
      const batch = this.queue.slice(0, this.options.batchSize);
      const ok = await this.post(this.options.batchSize === 1 ? batch[0] : batch);
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
      this.queue.splice(0, batch.length);
      this.stats.queued = this.queue.length;
      attempt = 0;
    }
    this.busy = false;
  }

  private async post(body: unknown): Promise<boolean> {
    const r = await httpRequest(this.options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.options.headers },
      body: JSON.stringify(body),
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
  }
}

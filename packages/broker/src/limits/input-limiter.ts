import { varintSize, type Packet } from '@vireo/mqtt';
import type { Logger } from 'pino';
import type { ListenerOptions } from '../options.js';
import type { Connection, PacketAdmission } from '../transport/connection.js';
import type { ClientLimitCounters } from './counters.js';
import { formatRate } from './rate.js';
import { PAUSE_RATE, pauseReads, resumeReads } from './read-gate.js';
import { TokenBucket } from './token-bucket.js';

/** What the limiters of a node share: where they log and count. */
export interface InputLimitEnv {
  readonly logger: Logger;
  readonly counters: ClientLimitCounters;
}

/**
 * A client's `messages_rate` / `bytes_rate` (EMQX's per-client listener limiters): PUBLISH
 * packets past the rate wait here, in order with the packets after them, and the socket's
 * reads are paused until the buckets refill. Nothing is dropped; what waits is bounded by
 * what one read had already brought in. `bytes_rate` counts every packet's bytes, as EMQX's
 * bytes limiter counts every byte read; `messages_rate` counts PUBLISH only. Without a
 * `bytes_rate`, other packets (acks, PINGREQ) cost nothing but keep their place behind a
 * waiting PUBLISH. Made only when the listener has a limit: a client on an unlimited
 * listener has no limiter at all.
 */
export class InputLimiter implements PacketAdmission {
  /** Packets waiting for tokens (undefined: none, the usual case). */
  private queue: Packet[] | undefined;
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private logged = false;

  constructor(
    private readonly conn: Connection,
    private readonly client: { readonly clientId: string },
    private messages: TokenBucket | undefined,
    private bytes: TokenBucket | undefined,
    private readonly listener: ListenerOptions,
    private readonly env: InputLimitEnv,
  ) {}

  /** true: handle `p` now; false: it waits here and is handed on when the rate allows. */
  admit(p: Packet): boolean {
    if (this.queue !== undefined) {
      this.queue.push(p);
      return false;
    }
    if (p.cmd !== 'publish' && this.bytes === undefined) return true;
    const wait = this.tryTake(p);
    if (wait === 0) return true;
    this.queue = [p];
    this.head = 0;
    pauseReads(this.conn, PAUSE_RATE);
    this.timer = setTimeout(drain, wait, this);
    return false;
  }

  /** Takes the packet's tokens, or returns how long to wait (counting and logging the throttle once per pause). */
  private tryTake(p: Packet): number {
    const now = Date.now();
    const size = wireSize(p.length ?? 0);
    const publish = p.cmd === 'publish';
    const wm = this.messages === undefined || !publish ? 0 : this.messages.wait(1, now);
    const wb = this.bytes === undefined ? 0 : this.bytes.wait(size, now);
    if (wm === 0 && wb === 0) {
      if (publish) this.messages?.take(1);
      this.bytes?.take(size);
      return 0;
    }
    if (this.queue === undefined) this.throttled(wm >= wb ? 'messages' : 'bytes');
    return Math.max(wm, wb);
  }

  private throttled(kind: 'messages' | 'bytes'): void {
    this.env.counters[kind]++;
    if (this.logged) return;
    this.logged = true;
    const l = this.listener;
    this.env.logger.info(
      {
        clientid: this.client.clientId || undefined,
        peer: this.conn.peer,
        listener: l.name,
        limiter: `${kind}_rate`,
        rate: formatRate(kind === 'messages' ? l.messagesRate : l.bytesRate),
      },
      'Client publishes past its rate limit: its reads are paused until the limit allows',
    );
  }

  /** Hands on what waits, as far as the rate allows; reads again once nothing waits. */
  drain(): void {
    this.timer = undefined;
    const q = this.queue;
    const conn = this.conn;
    if (q === undefined) return;
    while (this.head < q.length) {
      if (conn.closed) return this.stop();
      const p = q[this.head];
      if (p.cmd === 'publish' || this.bytes !== undefined) {
        const wait = this.tryTake(p);
        if (wait > 0) {
          this.timer = setTimeout(drain, wait, this);
          return;
        }
      }
      this.head++;
      try {
        conn.handler.onPacket(p);
      } catch (err) {
        // as in Connection.onData: a packet that makes its handler throw ends this connection only
        conn.handler.onHandlerError(err);
        return this.stop();
      }
    }
    this.queue = undefined;
    this.head = 0;
    resumeReads(conn, PAUSE_RATE);
  }

  /** Nothing waits here: the limiter can be dropped without losing a packet. */
  get idle(): boolean {
    return this.queue === undefined;
  }

  /**
   * The listener's rates changed (the HTTP API): fresh, full buckets (undefined: that limit is
   * off); what waits is re-timed at once, in order.
   */
  retune(messages: TokenBucket | undefined, bytes: TokenBucket | undefined): void {
    this.messages = messages;
    this.bytes = bytes;
    this.logged = false;
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.drain();
  }

  /** The connection closed: nothing more is handed on. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = undefined;
    this.head = 0;
  }
}

/** A packet's bytes on the wire from its Remaining Length: the fixed header's byte, the length's 1–4 bytes, the rest. */
export function wireSize(remaining: number): number {
  return 1 + varintSize(remaining) + remaining;
}

function drain(l: InputLimiter): void {
  l.drain();
}

/** The limiter for a client of `listener`, or undefined when the listener has no per-client limit. */
export function inputLimiter(conn: Connection, client: { readonly clientId: string }, listener: ListenerOptions, env: InputLimitEnv): InputLimiter | undefined {
  const { messagesRate, bytesRate } = listener;
  if (!messagesRate && !bytesRate) return undefined;
  const [messages, bytes] = buckets(listener);
  return new InputLimiter(conn, client, messages, bytes, listener, env);
}

/** Full buckets for the listener's per-client rates (undefined where it has none). */
export function buckets(listener: ListenerOptions): [TokenBucket | undefined, TokenBucket | undefined] {
  const now = Date.now();
  const { messagesRate, bytesRate } = listener;
  return [messagesRate ? new TokenBucket(messagesRate, listener.messagesBurst, now) : undefined, bytesRate ? new TokenBucket(bytesRate, listener.bytesBurst, now) : undefined];
}

/** A client's connection, as the runtime change of a listener's rates reaches it. */
export interface LimitedClient {
  readonly clientId: string;
  readonly conn: Connection;
}

/**
 * After the listener's rates changed: every connection of it takes the new ones — a fresh
 * limiter where it had none, new buckets where it had one, none when both are off and nothing
 * waits.
 */
export function retuneClients(listener: ListenerOptions, clients: Iterable<LimitedClient>, env: InputLimitEnv): number {
  let n = 0;
  for (const ch of clients) {
    const conn = ch.conn;
    if (conn.listener !== listener.name || conn.closed) continue;
    n++;
    const cur = conn.limiter;
    if (cur instanceof InputLimiter) {
      const [messages, bytes] = buckets(listener);
      cur.retune(messages, bytes);
      if (messages === undefined && bytes === undefined && cur.idle) conn.limiter = undefined;
    } else if (cur === undefined) conn.limiter = inputLimiter(conn, ch, listener, env);
  }
  return n;
}

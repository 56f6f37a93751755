import { isExpired } from '../message.js';
import type { SubOptions } from '../subscription.js';
import { EMPTY_WINDOW, InflightWindow } from './inflight.js';
import { MQueue, queuedSize } from './mqueue.js';
import type { Delivery, Outlet, SessionEvents, SessionJournal, SessionLimits, SessionState } from './types.js';

export type { Delivery, InflightEntry, Outlet, SessionEvents, SessionJournal, SessionLimits, SessionState, DropReason } from './types.js';

/** The shared empty map: reads work, a write is a bug (it would leak into every session). */
class EmptyMap extends Map<never, never> {
  override set(): this {
    throw new Error('write to the shared empty session map');
  }
}
const EMPTY: Map<unknown, unknown> = new EmptyMap();
function emptyMap<K, V>(): Map<K, V> {
  return EMPTY as Map<K, V>;
}

/**
 * One client's session as plain state (EMQX's emqx_session): subscriptions, the inflight
 * window, the queue and incoming QoS 2 ids. It knows nothing of sockets or routing: it sends
 * through the Outlet of the connection attached to it and reports drops and acks as events.
 */
export class Session {
  readonly clientId: string;
  readonly createdAt: number;
  expiryInterval: number;
  // The maps start as one shared empty map and become real on the first write, so an idle
  // client's session costs a few hundred bytes less (memory per connection is a target).
  /** Full filter (with `$share/…` prefix) → options. Write through setSubscription. */
  subscriptions: Map<string, SubOptions> = emptyMap();
  inflight: InflightWindow = EMPTY_WINDOW;
  readonly mqueue = new MQueue();
  /** Incoming QoS 2 packet ids awaiting PUBREL → time received. Write through addAwaitingRel. */
  awaitingRel: Map<number, number> = emptyMap();
  private nextPid = 1;
  outlet: Outlet | undefined;
  /** Set while detached and persistent: when the session expires, ms since epoch. */
  expiresAt = 0;
  expiryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** 0 = no timed resend (v5); set while attached to a 3.1.1 connection. */
  private retryInterval = 0;
  /** Inflight entries with `held` set. */
  private held = 0;
  /** Set while the session is persistent: where its messages' fate is written. */
  journal: SessionJournal | undefined = undefined;
  /**
   * Set for a moment on a node a session just moved to (cm/takeover.ts): every delivery goes
   * through it first, and it answers false for one the session must not take now — held back
   * until the old node's stand-in queue arrives, or a copy of one that queue already had.
   */
  intake: ((d: Delivery) => boolean) | undefined = undefined;
  /** What `intake` holds back meanwhile; handed on with the session if it moves again. */
  heldBack: Delivery[] | undefined = undefined;

  constructor(
    clientId: string,
    expiryInterval: number,
    private readonly limits: SessionLimits,
    private readonly events: SessionEvents,
    createdAt = Date.now(),
  ) {
    this.clientId = clientId;
    this.expiryInterval = expiryInterval;
    this.createdAt = createdAt;
  }

  setSubscription(filter: string, opts: SubOptions): void {
    if (this.subscriptions === EMPTY) this.subscriptions = new Map();
    this.subscriptions.set(filter, opts);
  }

  addAwaitingRel(pid: number, at: number): void {
    if (this.awaitingRel === EMPTY) this.awaitingRel = new Map();
    this.awaitingRel.set(pid, at);
    this.journal?.awaitingRel(this, pid, at);
  }

  /** PUBREL (or await_rel_timeout): false when `pid` was not awaiting it. */
  deleteAwaitingRel(pid: number): boolean {
    if (!this.awaitingRel.delete(pid)) return false;
    this.journal?.awaitingRel(this, pid, undefined);
    return true;
  }

  /** Hands one message to this session: send now, queue, or drop. */
  deliver(d: Delivery): void {
    if (this.intake !== undefined && !this.intake(d)) return;
    const outlet = this.outlet;
    if (!outlet) {
      if (d.qos === 0 && !this.limits.mqueueStoreQos0) return this.events.onDrop(this, d, 'no_connection');
      return this.enqueue(d);
    }
    if (d.qos === 0) {
      // a subscriber that does not keep up loses QoS 0 rather than the broker buffering without bound
      if (outlet.congested()) return this.events.onDrop(this, d, 'qos0_msg');
      if (outlet.sendPublish(d, 0, false)) this.events.onDelivered(this, d);
      else this.events.onDrop(this, d, 'too_large');
      return;
    }
    if (this.mqueue.length === 0 && this.inflight.size < this.window(outlet)) this.sendInflight(outlet, d);
    else this.enqueue(d);
  }

  /** PUBACK: returns false for an unknown packet id. */
  puback(pid: number): boolean {
    const e = this.inflight.get(pid);
    if (!e || e.state !== 'publish' || e.delivery.qos !== 1) return false;
    this.inflight.delete(pid);
    if (e.held) this.held--;
    this.journal?.done(this, e.delivery);
    this.events.onAcked?.(this, e.delivery);
    this.drain();
    return true;
  }

  /** PUBREC: moves a QoS 2 message to the PUBREL phase. `failed` (reason ≥ 0x80) ends it instead. */
  pubrec(pid: number, failed: boolean): boolean {
    const e = this.inflight.get(pid);
    if (!e || e.delivery.qos !== 2) return false;
    if (e.held) {
      e.held = false;
      this.held--;
    }
    if (failed) {
      this.inflight.delete(pid);
      this.journal?.done(this, e.delivery);
      this.drain();
      return true;
    }
    this.journal?.released(this, e.delivery, pid);
    this.events.onAcked?.(this, e.delivery);
    e.state = 'pubrel';
    e.sentAt = Date.now();
    this.outlet?.sendPubrel(pid);
    return true;
  }

  pubcomp(pid: number): boolean {
    const e = this.inflight.get(pid);
    if (!e || e.state !== 'pubrel') return false;
    this.inflight.delete(pid);
    if (e.held) this.held--;
    this.journal?.done(this, e.delivery);
    this.drain();
    return true;
  }

  /** Attaches a connection: replays the inflight window (DUP) and then the queue. */
  attach(outlet: Outlet, retryInterval: number): void {
    this.outlet = outlet;
    this.expiresAt = 0;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const now = Date.now();
    // never more unacknowledged than the client's Receive Maximum [MQTT-3.3.4-9]: the rest wait for acks
    const window = this.window(outlet);
    let sent = 0;
    this.held = 0;
    for (const e of this.inflight.values()) {
      e.sentAt = now;
      if (sent >= window) {
        e.held = true;
        this.held++;
        continue;
      }
      sent++;
      if (e.held) e.held = false;
      if (e.state === 'pubrel') outlet.sendPubrel(e.pid);
      else outlet.sendPublish(e.delivery, e.pid, true);
    }
    this.retryInterval = retryInterval;
    if (this.inflight.size > 0) this.startRetry();
    this.drain();
  }

  detach(): void {
    this.outlet = undefined;
    this.retryInterval = 0;
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Moves queued messages into the inflight window while there is room. */
  drain(): void {
    const outlet = this.outlet;
    if (!outlet) return;
    const window = this.window(outlet);
    const now = Date.now();
    if (this.held > 0) this.resendHeld(outlet, window, now);
    while (this.mqueue.length > 0 && this.inflight.size < window) {
      const d = this.mqueue.shift()!;
      if (isExpired(d.msg, now)) {
        this.journal?.done(this, d);
        this.events.onDrop(this, d, 'expired');
        continue;
      }
      if (d.qos === 0) {
        this.journal?.done(this, d);
        if (outlet.sendPublish(d, 0, false)) this.events.onDelivered(this, d);
        else this.events.onDrop(this, d, 'too_large');
      } else this.sendInflight(outlet, d);
    }
  }

  /**
   * Drops queued messages whose Message Expiry Interval has passed (the background sweep: an
   * offline session's would otherwise wait, on disk too, until its client came back). Inflight
   * ones stay: they were sent.
   */
  dropExpired(now: number): number {
    const expired = (d: Delivery): boolean => d.msg.expiresAt !== 0 && d.msg.expiresAt <= now;
    if (this.mqueue.length === 0 || !this.mqueue.some(expired)) return 0;
    const gone = this.mqueue.removeWhere(expired);
    for (const d of gone) {
      this.journal?.done(this, d);
      this.events.onDrop(this, d, 'expired');
    }
    return gone.length;
  }

  /** Removes inflight and queued messages that came through a shared subscription, for redispatch. */
  takeShared(): Delivery[] {
    const out: Delivery[] = [];
    for (const [pid, e] of this.inflight) {
      // a QoS 2 message past PUBREC has been received by the client: it stays
      if (e.delivery.share && e.state === 'publish') {
        this.inflight.delete(pid);
        if (e.held) this.held--;
        out.push(e.delivery);
      }
    }
    for (const d of this.mqueue.removeWhere((q) => q.share !== undefined && q.qos > 0)) out.push(d);
    if (this.journal) for (const d of out) this.journal.done(this, d);
    return out;
  }

  /** Everything undelivered (for redispatch when the session ends). */
  pending(): Delivery[] {
    const out: Delivery[] = [];
    for (const e of this.inflight.values()) if (e.state === 'publish') out.push(e.delivery);
    out.push(...this.mqueue.toArray());
    return out;
  }

  close(): void {
    this.detach();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  export(): SessionState {
    return {
      clientId: this.clientId,
      createdAt: this.createdAt,
      expiryInterval: this.expiryInterval,
      subscriptions: [...this.subscriptions],
      inflight: [...this.inflight.values()],
      mqueue: this.heldBack ? [...this.mqueue.toArray(), ...this.heldBack] : this.mqueue.toArray(),
      awaitingRel: [...this.awaitingRel],
      nextPacketId: this.nextPid,
    };
  }

  static import(state: SessionState, limits: SessionLimits, events: SessionEvents): Session {
    const s = new Session(state.clientId, state.expiryInterval, limits, events, state.createdAt);
    for (const [f, o] of state.subscriptions) s.setSubscription(f, o);
    if (state.inflight.length > 0) s.inflight = InflightWindow.from(state.inflight);
    for (const d of state.mqueue) s.mqueue.push(d);
    for (const [pid, t] of state.awaitingRel) s.addAwaitingRel(pid, t);
    s.nextPid = state.nextPacketId;
    return s;
  }

  private window(outlet: Outlet): number {
    const max = this.limits.maxInflight;
    return outlet.receiveMaximum < max ? outlet.receiveMaximum : max;
  }

  /** Resends inflight messages held back at reconnect, as acks make room in the window. */
  private resendHeld(outlet: Outlet, window: number, now: number): void {
    let outstanding = this.inflight.size - this.held;
    for (const e of this.inflight.values()) {
      if (outstanding >= window || this.held === 0) return;
      if (!e.held) continue;
      e.held = false;
      this.held--;
      outstanding++;
      e.sentAt = now;
      if (e.state === 'pubrel') outlet.sendPubrel(e.pid);
      else outlet.sendPublish(e.delivery, e.pid, true);
    }
  }

  private sendInflight(outlet: Outlet, d: Delivery): void {
    const pid = this.allocPid();
    if (!outlet.sendPublish(d, pid, false)) {
      this.journal?.done(this, d);
      this.events.onDrop(this, d, 'too_large');
      return;
    }
    if (this.inflight === EMPTY_WINDOW) this.inflight = new InflightWindow();
    this.inflight.set(pid, { pid, delivery: d, state: 'publish', sentAt: Date.now() });
    this.journal?.sent(this, d, pid);
    if (this.retryInterval > 0 && this.retryTimer === undefined) this.startRetry();
    this.events.onDelivered(this, d);
  }

  private enqueue(d: Delivery): void {
    const max = this.limits.maxMqueueLen;
    if (max > 0 && this.mqueue.length >= max) this.dropOldest();
    const maxBytes = this.limits.maxMqueueBytes ?? 0;
    if (maxBytes > 0 && this.mqueue.bytes + queuedSize(d) > maxBytes) {
      // one message larger than the whole budget goes, not the queue in front of it
      if (queuedSize(d) > maxBytes) return this.events.onDrop(this, d, 'queue_full');
      while (this.mqueue.bytes + queuedSize(d) > maxBytes) this.dropOldest();
    }
    this.mqueue.push(d);
    this.journal?.queued(this, d);
  }

  /** The queue is full (max_mqueue_len or max_mqueue_bytes): the oldest message goes, as in EMQX. */
  private dropOldest(): void {
    const dropped = this.mqueue.shift()!;
    this.journal?.done(this, dropped);
    this.events.onDrop(this, dropped, 'queue_full');
  }

  private allocPid(): number {
    // inflight is bounded by the window (≤ 65535), so a free id always exists
    let pid = this.nextPid;
    while (this.inflight.has(pid)) pid = pid === 65535 ? 1 : pid + 1;
    this.nextPid = pid === 65535 ? 1 : pid + 1;
    return pid;
  }

  /**
   * MQTT 3.1.1 resends unacknowledged messages after retry_interval (v5 only on reconnect).
   * The timer runs only while something is inflight, so idle clients have none.
   */
  private startRetry(): void {
    const interval = this.retryInterval;
    if (interval <= 0) return;
    this.retryTimer = setInterval(retryDue, Math.max(1000, interval / 2), this);
    this.retryTimer.unref();
  }

  /** Resends what has waited longer than retry_interval; stops the timer when nothing is inflight. */
  retryDue(): void {
    const outlet = this.outlet;
    if (!outlet || this.inflight.size === 0) {
      if (this.retryTimer) clearInterval(this.retryTimer);
      this.retryTimer = undefined;
      return;
    }
    const now = Date.now();
    const due = now - this.retryInterval;
    for (const e of this.inflight.values()) {
      if (e.held || e.sentAt > due) continue;
      e.sentAt = now;
      if (e.state === 'pubrel') outlet.sendPubrel(e.pid);
      else outlet.sendPublish(e.delivery, e.pid, true);
    }
  }
}

function retryDue(s: Session): void {
  s.retryDue();
}

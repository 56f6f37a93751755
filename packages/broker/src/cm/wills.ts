import { withoutEncodings, type Message } from '../message.js';
import type { WillStore } from '../persistence/store.js';

/**
 * Will messages waiting for their delay (MQTT 5 Will Delay Interval). A new connection of the
 * same clientid cancels its will [MQTT-3.1.3-9]; a session that ends first fires it at once.
 */
export class WillScheduler {
  private readonly pending = new Map<string, { msg: Message; fireAt: number; timer: NodeJS.Timeout }>();
  /** Where waiting wills are kept across a restart; unset = memory only. */
  store: WillStore | undefined;

  constructor(private readonly publish: (msg: Message) => void) {}

  schedule(clientId: string, msg: Message, delaySeconds: number): void {
    this.cancel(clientId);
    if (delaySeconds <= 0) {
      this.send(msg);
      return;
    }
    this.store?.putWill(clientId, msg, Date.now() + delaySeconds * 1000);
    this.wait(clientId, msg, delaySeconds * 1000);
  }

  /** A will read back from the store: due now, or waits for the rest of its delay. */
  restore(clientId: string, msg: Message, fireAt: number, now: number): void {
    if (fireAt <= now) {
      this.store?.deleteWill(clientId);
      this.send(msg);
    } else this.wait(clientId, msg, fireAt - now);
  }

  private wait(clientId: string, msg: Message, ms: number): void {
    const timer = setTimeout(() => this.fireNow(clientId), Math.min(ms, 2 ** 31 - 1));
    timer.unref();
    this.pending.set(clientId, { msg, fireAt: Date.now() + ms, timer });
  }

  /** Removes the waiting will of `clientId` without sending it (its session moves to another node). */
  take(clientId: string): { msg: Message; fireAt: number } | undefined {
    const p = this.pending.get(clientId);
    if (!p) return undefined;
    this.cancel(clientId);
    return { msg: p.msg, fireAt: p.fireAt };
  }

  /** A will that came with a session from another node: kept here (and stored) until it is due. */
  adopt(clientId: string, msg: Message, fireAt: number): void {
    this.cancel(clientId);
    this.store?.putWill(clientId, msg, fireAt);
    this.restore(clientId, msg, fireAt, Date.now());
  }

  cancel(clientId: string): void {
    const p = this.pending.get(clientId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(clientId);
    this.store?.deleteWill(clientId);
  }

  fireNow(clientId: string): void {
    const p = this.pending.get(clientId);
    if (!p) return;
    this.cancel(clientId);
    this.send(p.msg);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Stops the timers (the node stops); stored wills stay for the next start. */
  clear(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  private send(msg: Message): void {
    // the will's timestamp and expiry count from when it is published, not from CONNECT
    const now = Date.now();
    const interval = msg.properties?.messageExpiryInterval;
    this.publish(withoutEncodings({ ...msg, timestamp: now, expiresAt: interval ? now + interval * 1000 : 0 }));
  }
}

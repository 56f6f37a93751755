import type { Message } from './message.js';

/**
 * Will messages waiting for their delay (MQTT 5 Will Delay Interval). A new connection of the
 * same clientid cancels its will [MQTT-3.1.3-9]; a session that ends first fires it at once.
 */
export class WillScheduler {
  private readonly pending = new Map<string, { msg: Message; timer: NodeJS.Timeout }>();

  constructor(private readonly publish: (msg: Message) => void) {}

  schedule(clientId: string, msg: Message, delaySeconds: number): void {
    this.cancel(clientId);
    if (delaySeconds <= 0) {
      this.send(msg);
      return;
    }
    const timer = setTimeout(() => this.fireNow(clientId), Math.min(delaySeconds * 1000, 2 ** 31 - 1));
    timer.unref();
    this.pending.set(clientId, { msg, timer });
  }

  cancel(clientId: string): void {
    const p = this.pending.get(clientId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(clientId);
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

  clear(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  private send(msg: Message): void {
    // the will's timestamp and expiry count from when it is published, not from CONNECT
    const now = Date.now();
    const interval = msg.properties?.messageExpiryInterval;
    this.publish({ ...msg, timestamp: now, expiresAt: interval ? now + interval * 1000 : 0, encoded: undefined });
  }
}

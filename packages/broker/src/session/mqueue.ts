import { Deque } from './deque.js';
import type { Delivery } from './types.js';

/** What a queued delivery counts toward `mqtt.max_mqueue_bytes`: its payload and topic. */
export function queuedSize(d: Delivery): number {
  return d.msg.payload.length + d.msg.topic.length;
}

/**
 * A session's message queue: a Deque that keeps the sum of its deliveries' sizes, whoever
 * adds or removes them (enqueue, drain, expiry sweep, shared redispatch, takeover), so the
 * byte limit is one comparison per enqueue. The payload is shared with other subscribers'
 * queues: this is what the session keeps alive, not necessarily memory of its own.
 */
export class MQueue extends Deque<Delivery> {
  private total = 0;

  get bytes(): number {
    return this.total;
  }

  override push(d: Delivery): void {
    this.total += queuedSize(d);
    super.push(d);
  }

  override shift(): Delivery | undefined {
    const d = super.shift();
    if (d !== undefined) this.total -= queuedSize(d);
    return d;
  }

  override removeWhere(drop: (d: Delivery) => boolean): Delivery[] {
    const removed = super.removeWhere(drop);
    for (const d of removed) this.total -= queuedSize(d);
    return removed;
  }

  override clear(): void {
    super.clear();
    this.total = 0;
  }
}

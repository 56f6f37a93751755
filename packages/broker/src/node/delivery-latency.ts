/**
 * Delivery latency, sampled: one message in `every` gets a wall-clock stamp (sub-millisecond)
 * when it enters this node (a client's PUBLISH, or a message forwarded by a peer), and each of
 * its deliveries is observed when the PUBLISH is written to the subscriber's connection — time
 * spent queued for a slow or offline subscriber included. Off (nothing stamped) until the
 * metrics endpoint turns it on; the stamp is wall-clock so a message restored from the store
 * or moved by a takeover still measures its true wait.
 */
import { performance } from 'node:perf_hooks';
import { Histogram } from './histogram.js';
import type { Message } from '../message.js';

const ORIGIN = performance.timeOrigin;

export class DeliveryLatency {
  readonly histogram = new Histogram();
  private every = 0;
  private left = 0;

  /** Samples one message in `every` (0: off). */
  sample(every: number): void {
    this.every = every;
    this.left = every;
  }

  get sampling(): number {
    return this.every;
  }

  /** A message entered this node. */
  enter(msg: Message): void {
    if (this.every !== 0 && --this.left <= 0) {
      this.left = this.every;
      msg.sampledAt = ORIGIN + performance.now();
    }
  }

  /** A stamped message was written to a subscriber's connection. */
  delivered(sampledAt: number): void {
    const s = (ORIGIN + performance.now() - sampledAt) / 1000;
    // a stamp from another node's clock can be a little ahead of ours
    this.histogram.observe(s < 0 ? 0 : s);
  }
}

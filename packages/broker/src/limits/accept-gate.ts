import type { Duplex } from 'node:stream';
import type { Rate } from './rate.js';
import { TokenBucket } from './token-bucket.js';

interface Waiting {
  socket: Duplex;
  go: () => void;
}

/**
 * A listener's `max_conn_rate` / `max_conn_burst`: connections accepted past the rate wait,
 * their reads paused (their CONNECT stays unread), and are handed on in arrival order as the
 * rate allows — delayed, never refused. They count against `max_connections` while they wait.
 */
export class AcceptGate {
  private readonly bucket: TokenBucket;
  private queue: Waiting[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Connections that had to wait (`vireo_listener_conn_rate_limited_total`). */
  delayed = 0;

  constructor(rate: Rate, burst: Rate | null | undefined) {
    this.bucket = new TokenBucket(rate, burst, Date.now());
  }

  /** Connections waiting now. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** true: the rate allows `socket` now (call `go` yourself); false: `go` runs later, with reads paused till then. */
  admit(socket: Duplex, go: () => void): boolean {
    if (this.head === this.queue.length && this.bucket.tryTake(1, Date.now()) === 0) return true;
    socket.pause();
    this.delayed++;
    this.queue.push({ socket, go });
    if (this.timer === undefined) this.schedule();
    return false;
  }

  private schedule(): void {
    const wait = this.bucket.wait(1, Date.now());
    this.timer = setTimeout(drainGate, wait, this);
  }

  drain(): void {
    this.timer = undefined;
    while (this.head < this.queue.length) {
      const w = this.queue[this.head];
      if (w.socket.destroyed) {
        // gave up while waiting: it takes no turn
        this.head++;
        continue;
      }
      if (this.bucket.tryTake(1, Date.now()) !== 0) return this.schedule();
      this.head++;
      try {
        w.go();
        w.socket.resume();
      } catch {
        w.socket.destroy();
      }
      // a storm that never lets the queue empty must not keep every socket it saw
      if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
    }
    this.queue = [];
    this.head = 0;
  }

  /** The listener closes: the waiting connections are closed. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (let i = this.head; i < this.queue.length; i++) this.queue[i].socket.destroy();
    this.queue = [];
    this.head = 0;
  }
}

function drainGate(g: AcceptGate): void {
  g.drain();
}

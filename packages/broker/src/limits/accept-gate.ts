import type { Duplex } from 'node:stream';
import type { Rate } from './rate.js';
import { TokenBucket } from './token-bucket.js';

interface Waiting {
  socket: Duplex;
  go: () => void;
}

/**
 * A listener starts or stops making connections wait (`start`: the first delayed one of an
 * episode; `end`: nothing waited for EPISODE_QUIET_MS after the queue emptied, with how many
 * waited in the episode). One log line each, not one per connection.
 */
export type AcceptEpisode = (event: 'start' | 'end', delayed: number) => void;

/** How long the gate must let every connection straight through before an episode ends. */
export const EPISODE_QUIET_MS = 1000;

/**
 * A listener's `max_conn_rate` / `max_conn_burst`: connections accepted past the rate wait,
 * their reads paused (their CONNECT stays unread), and are handed on in arrival order as the
 * rate allows — delayed, never refused. They count against `max_connections` while they wait.
 * The rate can change while the listener runs (`setRate`, the HTTP API); without one
 * (`infinity`) every connection goes straight through.
 */
export class AcceptGate {
  private bucket: TokenBucket | undefined;
  private queue: Waiting[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private quiet: NodeJS.Timeout | undefined;
  private inEpisode = 0;
  /** Connections that had to wait (`vireo_listener_conn_rate_limited_total`). */
  delayed = 0;

  constructor(
    rate: Rate | null,
    burst: Rate | null | undefined,
    private readonly episode?: AcceptEpisode,
  ) {
    this.bucket = rate ? new TokenBucket(rate, burst, Date.now()) : undefined;
  }

  /** Connections waiting now. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** A new rate (null: none): a fresh, full bucket; the connections waiting are re-timed at once. */
  setRate(rate: Rate | null, burst: Rate | null | undefined): void {
    this.bucket = rate ? new TokenBucket(rate, burst, Date.now()) : undefined;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.drain();
    }
  }

  /** true: the rate allows `socket` now (call `go` yourself); false: `go` runs later, with reads paused till then. */
  admit(socket: Duplex, go: () => void): boolean {
    if (this.head === this.queue.length && (this.bucket === undefined || this.bucket.tryTake(1, Date.now()) === 0)) return true;
    socket.pause();
    this.delayed++;
    this.inEpisode++;
    if (this.quiet !== undefined) {
      clearTimeout(this.quiet);
      this.quiet = undefined;
    } else if (this.inEpisode === 1) this.episode?.('start', 1);
    this.queue.push({ socket, go });
    if (this.timer === undefined) this.schedule();
    return false;
  }

  private schedule(): void {
    const wait = this.bucket === undefined ? 0 : this.bucket.wait(1, Date.now());
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
      if (this.bucket !== undefined && this.bucket.tryTake(1, Date.now()) !== 0) return this.schedule();
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
    // the episode ends when no connection has had to wait for a while, not at each empty queue
    if (this.inEpisode > 0 && this.quiet === undefined) {
      this.quiet = setTimeout(endEpisode, EPISODE_QUIET_MS, this);
      this.quiet.unref();
    }
  }

  endEpisode(): void {
    this.quiet = undefined;
    const n = this.inEpisode;
    this.inEpisode = 0;
    if (n > 0) this.episode?.('end', n);
  }

  /** The listener closes: the waiting connections are closed. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.quiet !== undefined) clearTimeout(this.quiet);
    this.timer = undefined;
    this.quiet = undefined;
    for (let i = this.head; i < this.queue.length; i++) this.queue[i].socket.destroy();
    this.queue = [];
    this.head = 0;
  }
}

function drainGate(g: AcceptGate): void {
  g.drain();
}

function endEpisode(g: AcceptGate): void {
  g.endEpisode();
}

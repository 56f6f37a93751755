/**
 * Failed authentications per client address: after `limit` failures within `windowMs`, the
 * address is answered 429 (with Retry-After) until its window ends — even with good
 * credentials, so guessing cannot go on by watching for a non-429 answer. Sized: at most
 * `maxAddresses` addresses are tracked (the oldest windows are dropped first).
 */

export interface ThrottleOptions {
  /** Failures allowed per window and address. */
  limit?: number;
  windowMs?: number;
  maxAddresses?: number;
  now?: () => number;
}

interface Window {
  start: number;
  failures: number;
  /** Said in the log already (once per window). */
  logged: boolean;
}

export class AuthThrottle {
  readonly limit: number;
  readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();

  constructor(o: ThrottleOptions = {}) {
    this.limit = o.limit ?? 10;
    this.windowMs = o.windowMs ?? 60_000;
    this.maxAddresses = o.maxAddresses ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  /** Seconds the address must wait before trying again, or 0 when it may try now. */
  retryAfter(addr: string): number {
    const w = this.current(addr);
    if (!w || w.failures < this.limit) return 0;
    return Math.max(1, Math.ceil((w.start + this.windowMs - this.now()) / 1000));
  }

  /** Counts a failure; returns true the first time in a window that the address goes over the limit (log it then). */
  failed(addr: string): boolean {
    let w = this.current(addr);
    if (!w) {
      if (this.windows.size >= this.maxAddresses) this.prune();
      w = { start: this.now(), failures: 0, logged: false };
      this.windows.set(addr, w);
    }
    w.failures++;
    if (w.failures >= this.limit && !w.logged) {
      w.logged = true;
      return true;
    }
    return false;
  }

  private current(addr: string): Window | undefined {
    const w = this.windows.get(addr);
    if (w && this.now() - w.start >= this.windowMs) {
      this.windows.delete(addr);
      return undefined;
    }
    return w;
  }

  private prune(): void {
    const now = this.now();
    for (const [addr, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(addr);
    // still full: the oldest entries (Map keeps insertion order) go
    for (const addr of this.windows.keys()) {
      if (this.windows.size < this.maxAddresses) break;
      this.windows.delete(addr);
    }
  }
}

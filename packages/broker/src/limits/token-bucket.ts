import type { Rate } from './rate.js';

/**
 * A token bucket with EMQX's two knobs: the rate (`N/T`: holds up to N tokens, refilled at
 * N per T) and an optional burst (`M/T2`: a second bucket of up to M tokens, refilled at M
 * per T2, drawn on when the first is empty). A cost larger than what the bucket can hold
 * (one big PUBLISH under a small `bytes_rate`) is let through when the bucket is full and
 * leaves it in debt: over time the rate holds, and no packet waits for ever.
 */
export class TokenBucket {
  private tokens: number;
  private burstTokens: number;
  private last: number;
  private readonly perMs: number;
  private readonly capacity: number;
  private readonly burstPerMs: number;
  private readonly burstCapacity: number;

  constructor(rate: Rate, burst: Rate | null | undefined, now: number) {
    this.perMs = rate.amount / rate.intervalMs;
    this.capacity = rate.amount;
    this.burstPerMs = burst ? burst.amount / burst.intervalMs : 0;
    this.burstCapacity = burst ? burst.amount : 0;
    this.tokens = this.capacity;
    this.burstTokens = this.burstCapacity;
    this.last = now;
  }

  private refill(now: number): void {
    const dt = now - this.last;
    if (dt <= 0) return;
    this.last = now;
    this.tokens = Math.min(this.capacity, this.tokens + dt * this.perMs);
    if (this.burstCapacity > 0) this.burstTokens = Math.min(this.burstCapacity, this.burstTokens + dt * this.burstPerMs);
  }

  /** 0 when `cost` can be taken now (it is not taken yet: see `take`), else the ms to wait. */
  wait(cost: number, now: number): number {
    this.refill(now);
    const need = Math.min(cost, this.capacity + this.burstCapacity);
    const have = this.tokens + Math.max(0, this.burstTokens);
    if (have >= need) return 0;
    return Math.max(1, Math.ceil((need - have) / (this.perMs + this.burstPerMs)));
  }

  /** Takes `cost` after `wait` said 0: from the rate's bucket first, the rest from the burst. */
  take(cost: number): void {
    const fromRate = this.tokens > 0 ? Math.min(this.tokens, cost) : 0;
    this.tokens -= fromRate;
    let rest = cost - fromRate;
    if (rest > 0 && this.burstTokens > 0) {
      const fromBurst = Math.min(this.burstTokens, rest);
      this.burstTokens -= fromBurst;
      rest -= fromBurst;
    }
    // what neither bucket held (a cost over the capacity) is a debt the rate pays back
    this.tokens -= rest;
  }

  /** Takes `cost` if it can be taken now; else returns the ms to wait (nothing taken). */
  tryTake(cost: number, now: number): number {
    const w = this.wait(cost, now);
    if (w === 0) this.take(cost);
    return w;
  }
}

/**
 * A fixed-bucket histogram of plain numbers: `observe` is a short scan and two additions,
 * nothing is allocated, and the Prometheus side reads it at scrape time.
 */

/** Upper bounds in seconds, from 50 µs (a loopback hop) to 10 s (a stuck queue). */
export const LATENCY_BUCKETS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A histogram as read: `counts[i]` observations ≤ `buckets[i]` and > `buckets[i - 1]` (not cumulative); the last count is above every bound. */
export interface HistogramView {
  buckets: readonly number[];
  counts: readonly number[];
  /** Sum of the observed values (seconds). */
  sum: number;
  count: number;
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(readonly buckets: readonly number[] = LATENCY_BUCKETS) {
    this.counts = new Array<number>(buckets.length + 1).fill(0);
  }

  observe(seconds: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && seconds > b[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }

  view(): HistogramView {
    return { buckets: this.buckets, counts: [...this.counts], sum: this.sum, count: this.count };
  }
}

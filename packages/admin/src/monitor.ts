/**
 * The node's time series for the dashboard (EMQX's `emqx_dashboard_monitor`): every
 * `dashboard.sample_interval` the node samples its gauges (connections, subscriptions,
 * topics, retained) and how many messages it received, sent and dropped since the previous
 * sample, and keeps the last hour, in memory and (given a table) in the node's store, so the
 * charts survive a restart. Sample times fall on multiples of the interval, so the nodes'
 * series line up and sum point by point.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Broker, RecordTable } from '@vireo/broker';

/** One sample (EMQX's `sampler` fields, plus Vireo's event-loop lag and memory). */
export interface Sample {
  /** ms since the epoch, a multiple of the interval */
  time_stamp: number;
  connections: number;
  live_connections: number;
  subscriptions: number;
  shared_subscriptions: number;
  topics: number;
  retained_msg_count: number;
  /** messages received, sent and dropped during the interval that ends at `time_stamp` */
  received: number;
  sent: number;
  dropped: number;
  /** the event loop's delay, 99th percentile over the interval, ms */
  event_loop_lag_ms: number;
  /** resident memory, bytes */
  memory_used: number;
}

/** EMQX's `monitor_current` fields for one node (rates per second over the last interval). */
export interface CurrentView {
  connections: number;
  live_connections: number;
  subscriptions: number;
  shared_subscriptions: number;
  topics: number;
  retained_msg_count: number;
  received_msg_rate: number;
  sent_msg_rate: number;
  dropped_msg_rate: number;
  event_loop_lag_ms: number;
  memory_used: number;
  node_uptime?: number;
}

export const KEEP_MS = 3600_000;

export class Monitor {
  private readonly samples: Sample[] = [];
  private last: { at: number; received: number; sent: number; dropped: number };
  private readonly lag: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly broker: Broker,
    readonly intervalMs: number,
    /** where samples are kept across a restart (one small row per sample) */
    private readonly table?: RecordTable,
  ) {
    const s = broker.stats;
    this.last = { at: Date.now(), received: s.msgIn, sent: s.msgOut, dropped: s.msgDropped };
    const from = Date.now() - KEEP_MS;
    const kept: Sample[] = [];
    for (const [key, value] of table?.entries() ?? []) {
      const x = JSON.parse(value) as Sample;
      if (x.time_stamp > from) kept.push(x);
      else table!.delete(key);
    }
    this.samples.push(...kept.sort((a, b) => a.time_stamp - b.time_stamp));
  }

  start(): void {
    this.lag.enable();
    // first sample on the next multiple of the interval, then every interval
    const arm = () => {
      const wait = this.intervalMs - (Date.now() % this.intervalMs);
      this.timer = setTimeout(() => {
        this.sample();
        arm();
      }, wait);
      this.timer.unref();
    };
    arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.lag.disable();
  }

  /** Takes a sample now (the timer's job; tests call it too). */
  sample(): Sample {
    const now = Date.now();
    const s = this.broker.stats;
    const at = Math.round(now / this.intervalMs) * this.intervalMs;
    const sample: Sample = {
      time_stamp: at,
      ...this.gauges(),
      received: s.msgIn - this.last.received,
      sent: s.msgOut - this.last.sent,
      dropped: s.msgDropped - this.last.dropped,
      event_loop_lag_ms: this.lagMs(),
      memory_used: process.memoryUsage.rss(),
    };
    this.lag.reset();
    this.last = { at: now, received: s.msgIn, sent: s.msgOut, dropped: s.msgDropped };
    // a sample in the same slot (timer drift) replaces the earlier one
    if (this.samples.length > 0 && this.samples[this.samples.length - 1]!.time_stamp === at) this.samples.pop();
    this.samples.push(sample);
    this.table?.put(String(at), JSON.stringify(sample));
    while (this.samples.length > 0 && this.samples[0]!.time_stamp <= at - KEEP_MS) this.table?.delete(String(this.samples.shift()!.time_stamp));
    return sample;
  }

  /** Samples of the last `latestS` seconds (all kept when undefined), oldest first. */
  list(latestS?: number): Sample[] {
    if (latestS === undefined) return [...this.samples];
    const from = Date.now() - latestS * 1000;
    return this.samples.filter((x) => x.time_stamp > from);
  }

  /** Gauges as they are now; rates over the last interval. */
  current(): CurrentView {
    const last = this.samples[this.samples.length - 1];
    const perS = (n: number | undefined) => (n === undefined ? 0 : Math.round((n * 1000) / this.intervalMs));
    return {
      ...this.gauges(),
      received_msg_rate: perS(last?.received),
      sent_msg_rate: perS(last?.sent),
      dropped_msg_rate: perS(last?.dropped),
      event_loop_lag_ms: last?.event_loop_lag_ms ?? this.lagMs(),
      memory_used: process.memoryUsage.rss(),
      node_uptime: Math.floor((Date.now() - this.broker.startedAt) / 1000),
    };
  }

  private gauges() {
    const b = this.broker;
    const r = b.routeCounts();
    return {
      connections: b.sessionCount,
      live_connections: b.connectionCount,
      subscriptions: r.subscriptions,
      shared_subscriptions: r.shared,
      topics: r.topics,
      retained_msg_count: b.retainer.size,
    };
  }

  private lagMs(): number {
    const p99 = this.lag.count > 0 ? this.lag.percentile(99) : 0;
    return Math.round(p99 / 1e5) / 10;
  }
}

/** Not summed over nodes: the same on every node (retained) or a worst case (lag). */
const MAX_NOT_SUM = new Set(['retained_msg_count', 'event_loop_lag_ms', 'node_uptime']);

/** Sums the nodes' values field by field (retained and lag: the largest). */
export function combine<T extends object>(parts: T[]): T {
  const out: Record<string, number> = {};
  for (const p of parts) {
    for (const [k, v] of Object.entries(p)) {
      if (typeof v !== 'number') continue;
      out[k] = MAX_NOT_SUM.has(k) ? Math.max(out[k] ?? 0, v) : (out[k] ?? 0) + v;
    }
  }
  return out as T;
}

/**
 * The nodes' series merged by time stamp, oldest first. It ends at the newest time stamp every
 * node has reached: a node a moment behind has not sampled it yet, and a partial sum would
 * show as a drop.
 */
export function mergeSeries(series: Sample[][]): Sample[] {
  const filled = series.filter((s) => s.length > 0);
  const upTo = Math.min(...filled.map((s) => s[s.length - 1]!.time_stamp));
  const byTime = new Map<number, Sample[]>();
  for (const s of filled) for (const x of s) if (x.time_stamp <= upTo) byTime.set(x.time_stamp, [...(byTime.get(x.time_stamp) ?? []), x]);
  return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([t, xs]) => ({ ...combine(xs), time_stamp: t }));
}

/**
 * EMQX's `overload_protection` for a Node.js process: every `check_interval` the monitor reads
 * the event loop's utilization and longest delay over the interval and the V8 heap in use;
 * past any threshold the node is overloaded until `recoverChecks` checks in a row find all of
 * them under it again (one calm second in a storm is not the end of it).
 * It sets `broker.guard.overloaded` (new CONNECTs get 0x89 Server busy, or wait; QoS 0 to
 * clients with a backlog is shed) and raises the `overload` alarm, cleared on recovery. The
 * hot path reads one boolean; the sampling is here, on a timer.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { Broker } from '@vireo/broker';
import type { Alarms } from './alarms.js';

export interface OverloadOptions {
  /** ms between checks */
  checkIntervalMs: number;
  /** ms of event-loop delay (the longest in an interval) that means overload; 0: not checked */
  eventLoopLagMs: number;
  /** share of the interval the event loop was busy (0–1) that means overload; 0: not checked */
  eventLoopUtilization: number;
  /** share of the V8 heap limit in use (0–1) that means overload; 0: not checked */
  heapUsage: number;
  /** EMQX's `backoff_new_conn`: refuse new CONNECTs with 0x89 while overloaded (else delay them) */
  backoffNewConn: boolean;
  /** EMQX's `backoff_delay`, ms: how long a new CONNECT waits while overloaded when not refused */
  backoffDelayMs: number;
  /** bytes waiting for a client's socket over which its QoS 0 messages are shed while overloaded */
  shedQos0Backlog: number;
  /** consecutive calm checks (every threshold unmet) that end an overload; at least 1 */
  recoverChecks: number;
}

export interface OverloadSample {
  eventLoopUtilization: number;
  eventLoopLagMs: number;
  heapUsage: number;
}

export const OVERLOAD_ALARM = 'overload';
const pct = (f: number) => Math.round(f * 10000) / 100;

export class OverloadMonitor {
  private timer: NodeJS.Timeout | undefined;
  private delay: IntervalHistogram | undefined;
  private eluPrev: EventLoopUtilization = performance.eventLoopUtilization();
  /** Calm checks in a row while overloaded. */
  private calm = 0;
  /** The last check's figures (for logs and the alarm's details). */
  last: OverloadSample = { eventLoopUtilization: 0, eventLoopLagMs: 0, heapUsage: 0 };

  constructor(
    private readonly broker: Broker,
    private readonly alarms: Alarms,
    private opts: OverloadOptions,
  ) {
    this.applyGuard();
  }

  /** Checking now (`overload_protection.enable`). */
  get enabled(): boolean {
    return this.timer !== undefined;
  }

  get options(): Readonly<OverloadOptions> {
    return this.opts;
  }

  private applyGuard(): void {
    const g = this.broker.guard;
    g.refuseNewConn = this.opts.backoffNewConn;
    g.newConnDelayMs = this.opts.backoffDelayMs;
    g.shedQos0Backlog = this.opts.shedQos0Backlog;
  }

  /**
   * New options while the node runs (the HTTP API): applied at once, the checks restarted with
   * them. Turned off while overloaded, the node stops backing off and the alarm is cleared.
   */
  configure(opts: OverloadOptions, enable: boolean): void {
    const wasOverloaded = this.broker.guard.overloaded;
    if (this.timer) this.stop();
    this.opts = opts;
    this.applyGuard();
    if (enable) {
      // an overload in progress goes on until the new thresholds find the node calm
      this.broker.guard.overloaded = wasOverloaded;
      this.start();
    } else if (wasOverloaded) {
      this.alarms.deactivate(OVERLOAD_ALARM, { reason: 'overload_protection turned off' }, 'The node is no longer overloaded (overload protection turned off)');
    }
  }

  start(): void {
    if (this.opts.eventLoopLagMs > 0) {
      this.delay = monitorEventLoopDelay({ resolution: 10 });
      this.delay.enable();
    }
    this.eluPrev = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.check(), this.opts.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.delay?.disable();
    this.delay = undefined;
    this.calm = 0;
    this.broker.guard.overloaded = false;
  }

  private sample(): OverloadSample {
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, this.eluPrev).utilization;
    this.eluPrev = now;
    let lag = 0;
    if (this.delay) {
      lag = this.delay.max / 1e6;
      this.delay.reset();
    }
    const h = v8.getHeapStatistics();
    return { eventLoopUtilization: elu, eventLoopLagMs: lag, heapUsage: h.heap_size_limit > 0 ? h.used_heap_size / h.heap_size_limit : 0 };
  }

  /** One check: sets or clears the overload flag and the alarm. */
  check(): void {
    const s = (this.last = this.sample());
    const o = this.opts;
    const causes: string[] = [];
    if (o.eventLoopUtilization > 0 && s.eventLoopUtilization >= o.eventLoopUtilization) causes.push('event_loop_utilization');
    if (o.eventLoopLagMs > 0 && s.eventLoopLagMs >= o.eventLoopLagMs) causes.push('event_loop_lag');
    if (o.heapUsage > 0 && s.heapUsage >= o.heapUsage) causes.push('heap_usage');
    const g = this.broker.guard;
    const details = {
      event_loop_utilization: `${pct(s.eventLoopUtilization)}%`,
      event_loop_lag_ms: Math.round(s.eventLoopLagMs),
      heap_usage: `${pct(s.heapUsage)}%`,
      refused_connects: g.refusedConnects,
      shed_messages: g.shedMessages,
    };
    if (causes.length > 0) {
      this.calm = 0;
      if (!g.overloaded) {
        g.overloaded = true;
        this.alarms.activate(
          OVERLOAD_ALARM,
          { ...details, causes: causes.join(',') },
          `The node is overloaded (${causes.join(', ')}): ${o.backoffNewConn ? 'new connections are refused' : 'new connections are delayed'}, QoS 0 to slow subscribers is shed`,
        );
      }
    } else if (g.overloaded && ++this.calm >= Math.max(1, o.recoverChecks)) {
      this.calm = 0;
      g.overloaded = false;
      this.alarms.deactivate(OVERLOAD_ALARM, details, 'The node is no longer overloaded');
    }
  }
}

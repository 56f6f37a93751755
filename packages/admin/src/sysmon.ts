/**
 * The node watching itself (EMQX's `sysmon`): memory every `sysmon.os.mem_check_interval`;
 * event-loop lag, V8 heap, file descriptors and connections every
 * `sysmon.vm.process_check_interval`. Each raises an alarm past its high watermark and clears
 * it below its low one (or below the high one where EMQX has no low). Also keeps the
 * event-loop utilization of the last few seconds for `vireo_event_loop_utilization`.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import type { Broker } from '@vireo/broker';
import type { Alarms } from './alarms.js';
import { readFds, readMemory, type FdUsage, type MemoryUsage } from './sysmon-probes.js';

export interface SysmonOptions {
  /** ms; 0: memory is not checked */
  memCheckIntervalMs: number;
  /** fractions (0.7 = 70 %) */
  sysmemHighWatermark: number;
  procmemHighWatermark: number;
  /** ms */
  processCheckIntervalMs: number;
  /** ms of event-loop delay that raises `high_event_loop_lag`; 0: not checked */
  longScheduleMs: number;
  heapHighWatermark: number;
  fdHighWatermark: number;
  fdLowWatermark: number;
  connectionHighWatermark: number;
  connectionLowWatermark: number;
}

export const DEFAULT_SYSMON_OPTIONS: SysmonOptions = {
  memCheckIntervalMs: 60_000,
  sysmemHighWatermark: 0.7,
  procmemHighWatermark: 0.05,
  processCheckIntervalMs: 30_000,
  longScheduleMs: 240,
  heapHighWatermark: 0.9,
  fdHighWatermark: 0.8,
  fdLowWatermark: 0.6,
  connectionHighWatermark: 0.8,
  connectionLowWatermark: 0.75,
};

/** What the checks read; tests give their own. */
export interface SysmonProbes {
  memory(): MemoryUsage;
  fds(): FdUsage | undefined;
}

const ELU_WINDOW_MS = 5000;
const pct = (f: number) => Math.round(f * 10000) / 100;

export class Sysmon {
  private timers: NodeJS.Timeout[] = [];
  private delay: IntervalHistogram | undefined;
  private eluPrev: EventLoopUtilization = performance.eventLoopUtilization();
  private eluLast = 0;

  constructor(
    private readonly broker: Broker,
    readonly alarms: Alarms,
    private readonly opts: SysmonOptions = DEFAULT_SYSMON_OPTIONS,
    private readonly probes: SysmonProbes = { memory: readMemory, fds: readFds },
  ) {}

  /** Event-loop utilization (0–1) over the last few seconds. */
  get eventLoopUtilization(): number {
    return this.eluLast;
  }

  start(): void {
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(() => {
        try {
          fn();
        } catch (err) {
          this.broker.logger.warn({ err }, 'sysmon check failed');
        }
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(ELU_WINDOW_MS, () => this.sampleElu());
    if (this.opts.memCheckIntervalMs > 0) every(this.opts.memCheckIntervalMs, () => this.checkMemory());
    if (this.opts.longScheduleMs > 0) {
      this.delay = monitorEventLoopDelay({ resolution: 10 });
      this.delay.enable();
    }
    every(this.opts.processCheckIntervalMs, () => this.checkProcess());
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.delay?.disable();
  }

  private sampleElu(): void {
    const now = performance.eventLoopUtilization();
    this.eluLast = performance.eventLoopUtilization(now, this.eluPrev).utilization;
    this.eluPrev = now;
  }

  /** Raises `name` at or above `high`, clears it below `low`. */
  private watermark(name: string, usage: number, high: number, low: number, details: Record<string, number | string>, what: string): void {
    const d = { ...details, usage: `${pct(usage)}%`, high_watermark: pct(high), low_watermark: pct(low) };
    if (usage >= high) this.alarms.activate(name, d, `${what} usage is higher than ${pct(high)}%`);
    else if (usage < low) this.alarms.deactivate(name, d, `${what} usage is lower than ${pct(low)}%`);
  }

  checkMemory(): void {
    const m = this.probes.memory();
    if (m.total > 0) {
      const o = this.opts;
      // EMQX: both memory alarms clear once usage is back under the high watermark
      this.watermark('high_system_memory_usage', (m.total - m.available) / m.total, o.sysmemHighWatermark, o.sysmemHighWatermark, {}, 'System memory');
      this.watermark('high_process_memory_usage', m.rss / m.total, o.procmemHighWatermark, o.procmemHighWatermark, { rss: m.rss }, 'Process memory');
    }
  }

  checkProcess(): void {
    const o = this.opts;
    if (this.delay) {
      // the longest the event loop was blocked since the last check
      const maxMs = this.delay.max / 1e6;
      this.delay.reset();
      const d = { max_delay_ms: Math.round(maxMs), long_schedule_ms: o.longScheduleMs };
      if (maxMs >= o.longScheduleMs)
        this.alarms.activate('high_event_loop_lag', d, `The event loop was blocked for ${Math.round(maxMs)} ms (long_schedule ${o.longScheduleMs} ms)`);
      else this.alarms.deactivate('high_event_loop_lag', d, `The event loop delay is under ${o.longScheduleMs} ms`);
    }
    const m = this.probes.memory();
    if (m.heapLimit > 0)
      this.watermark('high_heap_usage', m.heapUsed / m.heapLimit, o.heapHighWatermark, o.heapHighWatermark, { heap_used: m.heapUsed, heap_limit: m.heapLimit }, 'V8 heap');
    const fds = this.probes.fds();
    if (fds && fds.limit > 0)
      this.watermark('too_many_file_descriptors', fds.open / fds.limit, o.fdHighWatermark, o.fdLowWatermark, { open: fds.open, limit: fds.limit }, 'File descriptor');
    for (const l of this.broker.listenerStats()) {
      const max = this.broker.options.listeners.find((x) => x.name === l.name)?.maxConnections ?? 0;
      if (max > 0)
        this.watermark(
          `too_many_connections/${l.name}`,
          l.connections / max,
          o.connectionHighWatermark,
          o.connectionLowWatermark,
          { listener: l.name, connections: l.connections, max_connections: max },
          `Listener ${l.name} connection`,
        );
    }
  }
}

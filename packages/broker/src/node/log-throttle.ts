import type { Logger } from 'pino';

/** EMQX's `log.throttling.time_window` default. */
export const DEFAULT_LOG_THROTTLE_WINDOW = 60_000;

interface Pending {
  level: 'warn' | 'info';
  msg: string;
  /** The fields of the latest throttled event (its topic, say). */
  fields: Record<string, unknown>;
  /** Events since the last line written for this key. */
  count: number;
}

/**
 * Log lines that can come once per message (EMQX's `log.throttling`): a full queue drops
 * thousands of messages a second, and a synchronous log line for each keeps an overloaded
 * node stalled — it drops more. Per key (the event and the clientid) and time window, the
 * first event is logged at once; the others are counted and written as one line with
 * `throttled: N` when the window ends. Counters and hooks are the caller's, unthrottled.
 */
export class LogThrottle {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly logger: Logger,
    readonly windowMs = DEFAULT_LOG_THROTTLE_WINDOW,
  ) {}

  /** Logs `msg` with `fields` now, or counts it if `key` was logged in this window. */
  event(level: 'warn' | 'info', key: string, fields: Record<string, unknown>, msg: string): void {
    const p = this.pending.get(key);
    if (p !== undefined) {
      p.count++;
      p.fields = fields;
      return;
    }
    this.logger[level](fields, msg);
    this.pending.set(key, { level, msg, fields, count: 0 });
    if (this.timer === undefined) {
      this.timer = setInterval(flushWindow, this.windowMs, this);
      this.timer.unref();
    }
  }

  /**
   * The window ended: one line per key with the events counted in it. A key that had none
   * is forgotten (its next event is logged at once); one that had some stays throttled for
   * another window, so a steady stream gives one line per window.
   */
  flush(): void {
    const windowS = this.windowMs / 1000;
    for (const [key, p] of this.pending) {
      if (p.count === 0) {
        this.pending.delete(key);
        continue;
      }
      this.logger[p.level]({ ...p.fields, throttled: p.count, time_window_s: windowS }, `${p.msg} (${p.count} more in the last ${windowS} s)`);
      p.count = 0;
    }
    if (this.pending.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** At shutdown: writes what was counted, stops the timer. */
  close(): void {
    this.flush();
    this.pending.clear();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function flushWindow(t: LogThrottle): void {
  t.flush();
}

/**
 * This node's alarms, as EMQX keeps them: an alarm is activated once (activating an active
 * one changes nothing), deactivated when its cause is gone, and then kept in the history
 * (`alarm.size_limit` entries, `alarm.validity_period` long) until cleared. Each change is
 * logged and published to `$SYS/brokers/{node}/alarms/activate|deactivate` (`alarm.actions`).
 */
import type { Broker } from '@vireo/broker';

export type AlarmAction = 'log' | 'publish';

export interface AlarmOptions {
  /** `alarm.actions`: what a change does besides being listed. */
  actions: readonly AlarmAction[];
  /** `alarm.size_limit`: deactivated alarms kept; the oldest go first. */
  sizeLimit: number;
  /** `alarm.validity_period` (ms): how long a deactivated alarm is kept. */
  validityPeriodMs: number;
}

export const DEFAULT_ALARM_OPTIONS: AlarmOptions = { actions: ['log', 'publish'], sizeLimit: 1000, validityPeriodMs: 24 * 3600_000 };

export type AlarmDetails = Record<string, string | number | boolean | null>;

interface Alarm {
  name: string;
  message: string;
  details: AlarmDetails;
  /** ms since the epoch */
  activateAt: number;
  deactivateAt?: number;
}

/** An alarm in the HTTP API (EMQX's `GET /api/v5/alarms` item). */
export interface AlarmView {
  node: string;
  name: string;
  message: string;
  details: AlarmDetails;
  /** ms it has been (or was) active */
  duration: number;
  activate_at: string;
  /** RFC 3339, or `infinity` while active */
  deactivate_at: string;
  activated: boolean;
}

export class Alarms {
  private readonly active = new Map<string, Alarm>();
  /** deactivated, oldest first */
  private history: Alarm[] = [];

  constructor(
    private readonly broker: Broker,
    private readonly opts: AlarmOptions = DEFAULT_ALARM_OPTIONS,
  ) {}

  get node(): string {
    return this.broker.options.nodeName;
  }

  isActive(name: string): boolean {
    return this.active.has(name);
  }

  /** Returns false when it was active already (nothing is logged or published again). */
  activate(name: string, details: AlarmDetails, message: string): boolean {
    if (this.active.has(name)) return false;
    const alarm: Alarm = { name, details, message, activateAt: Date.now() };
    this.active.set(name, alarm);
    this.announce(alarm, true);
    return true;
  }

  /** Returns false when it was not active. `details`/`message` describe the recovery, if given. */
  deactivate(name: string, details?: AlarmDetails, message?: string): boolean {
    const alarm = this.active.get(name);
    if (!alarm) return false;
    this.active.delete(name);
    alarm.deactivateAt = Date.now();
    if (details) alarm.details = details;
    if (message) alarm.message = message;
    this.history.push(alarm);
    this.prune();
    this.announce(alarm, false);
    return true;
  }

  /** `DELETE /api/v5/alarms`: forgets the deactivated alarms; returns how many. */
  clearDeactivated(): number {
    const n = this.history.length;
    this.history = [];
    return n;
  }

  /** Active ones (`true`), deactivated ones (`false`) or both, newest first. */
  views(activated?: boolean): AlarmView[] {
    this.prune();
    const now = Date.now();
    const out: AlarmView[] = [];
    if (activated !== false) for (const a of [...this.active.values()].reverse()) out.push(this.view(a, now));
    if (activated !== true) for (let i = this.history.length - 1; i >= 0; i--) out.push(this.view(this.history[i]!, now));
    return out;
  }

  activeNames(): string[] {
    return [...this.active.keys()];
  }

  private view(a: Alarm, now: number): AlarmView {
    return {
      node: this.node,
      name: a.name,
      message: a.message,
      details: a.details,
      duration: (a.deactivateAt ?? now) - a.activateAt,
      activate_at: new Date(a.activateAt).toISOString(),
      deactivate_at: a.deactivateAt === undefined ? 'infinity' : new Date(a.deactivateAt).toISOString(),
      activated: a.deactivateAt === undefined,
    };
  }

  private prune(): void {
    const oldest = Date.now() - this.opts.validityPeriodMs;
    let drop = Math.max(0, this.history.length - this.opts.sizeLimit);
    while (drop < this.history.length && this.history[drop]!.deactivateAt! < oldest) drop++;
    if (drop > 0) this.history = this.history.slice(drop);
  }

  private announce(a: Alarm, activated: boolean): void {
    const log = { alarm: a.name, message: a.message, details: a.details };
    if (this.opts.actions.includes('log')) {
      if (activated) this.broker.logger.warn(log, 'alarm_is_activated');
      else this.broker.logger.info(log, 'alarm_is_deactivated');
    }
    if (!this.opts.actions.includes('publish')) return;
    // EMQX's payload: times in µs since the epoch, deactivate_at `infinity` while active
    const payload = {
      name: a.name,
      details: a.details,
      message: a.message,
      activated,
      activate_at: a.activateAt * 1000,
      deactivate_at: a.deactivateAt === undefined ? 'infinity' : a.deactivateAt * 1000,
    };
    this.broker.publishMessage({ topic: `$SYS/brokers/${this.node}/alarms/${activated ? 'activate' : 'deactivate'}`, payload: JSON.stringify(payload), qos: 0 });
  }
}

/** `force_shutdown` and `overload_protection` applied to a started broker (docs/limits.md). */
import { OverloadMonitor, type Alarms, type OverloadOptions } from '@vireo/admin';
import type { Broker } from '@vireo/broker';
import type { VireoConfig } from './config-schema.js';
import { parsePercent } from './config-schema/sysmon.js';

type OverloadConfig = VireoConfig['overload_protection'];
type ForceShutdownConfig = VireoConfig['force_shutdown'];

/** Sets `force_shutdown` (read by every connection at each check, so a change reaches them all). */
export function applyForceShutdown(broker: Broker, fs: ForceShutdownConfig): void {
  broker.guard.forceShutdown = fs.enable ? { maxPackets: fs.max_mailbox_size, maxBytes: fs.max_heap_size } : undefined;
}

/** The monitor's options from `overload_protection` (the schema checked the percentages; `disabled` is 0: not checked). */
export function overloadOptions(o: OverloadConfig): OverloadOptions {
  const share = (v: string) => (v === 'disabled' ? 0 : (parsePercent(v) ?? 0));
  return {
    checkIntervalMs: o.check_interval,
    eventLoopLagMs: o.event_loop_lag,
    eventLoopUtilization: share(o.event_loop_utilization),
    heapUsage: share(o.heap_usage),
    backoffNewConn: o.backoff_new_conn,
    backoffDelayMs: o.backoff_delay,
    shedQos0Backlog: o.shed_qos0_backlog,
    recoverChecks: o.recover_checks,
  };
}

export function logOverload(broker: Broker, o: OverloadConfig, why: string): void {
  broker.logger.info(
    {
      check_interval_ms: o.check_interval,
      event_loop_utilization: o.event_loop_utilization,
      event_loop_lag_ms: o.event_loop_lag,
      heap_usage: o.heap_usage,
      backoff_new_conn: o.backoff_new_conn,
      recover_checks: o.recover_checks,
    },
    why,
  );
}

/**
 * Sets the force_shutdown limits and makes the overload monitor, started when enabled (it is
 * kept either way: the HTTP API can turn it on or off while the node runs).
 */
export function startGuardFor(config: VireoConfig, broker: Broker, alarms: Alarms): OverloadMonitor {
  applyForceShutdown(broker, config.force_shutdown);
  const o = config.overload_protection;
  const monitor = new OverloadMonitor(broker, alarms, overloadOptions(o));
  if (o.enable) {
    monitor.start();
    logOverload(broker, o, 'Overload protection enabled');
  }
  return monitor;
}

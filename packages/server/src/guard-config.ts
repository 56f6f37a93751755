/** `force_shutdown` and `overload_protection` applied to a started broker (docs/limits.md). */
import { OverloadMonitor, type Alarms } from '@vireo/admin';
import type { Broker } from '@vireo/broker';
import type { VireoConfig } from './config-schema.js';
import { parsePercent } from './config-schema/sysmon.js';

/** Sets the force_shutdown limits; starts the overload monitor when enabled (undefined otherwise). */
export function startGuardFor(config: VireoConfig, broker: Broker, alarms: Alarms): OverloadMonitor | undefined {
  const fs = config.force_shutdown;
  broker.guard.forceShutdown = fs.enable ? { maxPackets: fs.max_mailbox_size, maxBytes: fs.max_heap_size } : undefined;
  const o = config.overload_protection;
  if (!o.enable) return undefined;
  // the schema checked the percentages; `disabled` is 0 (not checked)
  const share = (v: string) => (v === 'disabled' ? 0 : (parsePercent(v) ?? 0));
  const monitor = new OverloadMonitor(broker, alarms, {
    checkIntervalMs: o.check_interval,
    eventLoopLagMs: o.event_loop_lag,
    eventLoopUtilization: share(o.event_loop_utilization),
    heapUsage: share(o.heap_usage),
    backoffNewConn: o.backoff_new_conn,
    backoffDelayMs: o.backoff_delay,
    shedQos0Backlog: o.shed_qos0_backlog,
  });
  monitor.start();
  broker.logger.info(
    {
      check_interval_ms: o.check_interval,
      event_loop_utilization: o.event_loop_utilization,
      event_loop_lag_ms: o.event_loop_lag,
      heap_usage: o.heap_usage,
      backoff_new_conn: o.backoff_new_conn,
    },
    'Overload protection enabled',
  );
  return monitor;
}

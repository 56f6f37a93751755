/** Starts the node's self-watch and alarms from `sysmon.*` and `alarm.*`; bad values stop start-up naming the key. */
import { Alarms, Sysmon, type AlarmAction } from '@vireo/admin';
import type { Broker } from '@vireo/broker';
import { ConfigError } from './config-error.js';
import type { VireoConfig } from './config-schema.js';
import { ALARM_ACTIONS } from './config-schema/alarm.js';
import { parsePercent } from './config-schema/sysmon.js';
import type { ConfigIssue } from './config-validate.js';

export function startSysmonFor(config: VireoConfig, broker: Broker): Sysmon {
  const issues: ConfigIssue[] = [];
  const bad = config.alarm.actions.filter((a) => !(ALARM_ACTIONS as readonly string[]).includes(a));
  if (bad.length) issues.push({ path: 'alarm.actions', message: `expected actions among ${ALARM_ACTIONS.join(', ')}, got ${bad.join(', ')}` });
  const { os, vm } = config.sysmon;
  // the schema checked every percentage already
  const p = (v: string) => parsePercent(v) ?? 0;
  const pairs: [string, string, string][] = [
    ['sysmon.vm.fd_low_watermark', vm.fd_low_watermark, vm.fd_high_watermark],
    ['sysmon.vm.connection_low_watermark', vm.connection_low_watermark, vm.connection_high_watermark],
  ];
  for (const [path, low, high] of pairs) if (p(low) > p(high)) issues.push({ path, message: `must not be above the high watermark (${high}), got ${low}` });
  if (issues.length) throw new ConfigError(issues);
  const alarms = new Alarms(broker, { actions: config.alarm.actions as AlarmAction[], sizeLimit: config.alarm.size_limit, validityPeriodMs: config.alarm.validity_period });
  const sysmon = new Sysmon(broker, alarms, {
    memCheckIntervalMs: os.mem_check_interval,
    sysmemHighWatermark: p(os.sysmem_high_watermark),
    procmemHighWatermark: p(os.procmem_high_watermark),
    processCheckIntervalMs: vm.process_check_interval,
    longScheduleMs: vm.long_schedule,
    heapHighWatermark: p(vm.heap_high_watermark),
    fdHighWatermark: p(vm.fd_high_watermark),
    fdLowWatermark: p(vm.fd_low_watermark),
    connectionHighWatermark: p(vm.connection_high_watermark),
    connectionLowWatermark: p(vm.connection_low_watermark),
  });
  sysmon.start();
  return sysmon;
}

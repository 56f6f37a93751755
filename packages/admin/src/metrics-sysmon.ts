/**
 * `vireo_event_loop_utilization` (share of the last few seconds the event loop was busy) and
 * `vireo_alarms` (1 per active alarm, labelled by its name, as the alarm list names it).
 */
import { Gauge, type Registry } from 'prom-client';
import type { Sysmon } from './sysmon.js';

export function registerSysmonMetrics(register: Registry, sysmon: Sysmon): void {
  new Gauge({
    name: 'vireo_event_loop_utilization',
    help: 'Event-loop utilization of this node over the last 5 s, 0 to 1 (Node.js performance.eventLoopUtilization)',
    registers: [register],
    collect() {
      this.set(sysmon.eventLoopUtilization);
    },
  });
  new Gauge({
    name: 'vireo_alarms',
    help: 'Active alarms of this node: 1 per alarm, by name (GET /api/v5/alarms?activated=true)',
    labelNames: ['name'],
    registers: [register],
    collect() {
      this.reset();
      for (const name of sysmon.alarms.activeNames()) this.set({ name }, 1);
    },
  });
}

/**
 * The bounded-memory limits, for Prometheus (docs/limits.md): retained messages a limit refused.
 */
import { Counter, type Registry } from 'prom-client';
import type { Broker } from '@vireo/broker';

const RETAIN_REASONS = ['table_is_full', 'payload_too_large'] as const;

export function registerMemoryMetrics(register: Registry, broker: Broker): void {
  new Counter({
    name: 'vireo_retained_dropped_total',
    help: 'Retained publishes delivered but not retained: table_is_full (retainer.backend.max_retained_messages), payload_too_large (retainer.max_payload_size).',
    labelNames: ['reason'],
    registers: [register],
    collect() {
      this.reset();
      for (const reason of RETAIN_REASONS) this.inc({ reason }, broker.retainer.dropped[reason]);
    },
  });
}

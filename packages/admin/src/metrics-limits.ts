/**
 * The listener limiters (docs/limits.md), for Prometheus: connections `max_conn_rate` made
 * wait, per listener, and clients whose reads `messages_rate` / `bytes_rate` paused, by kind.
 */
import { Counter, type Registry } from 'prom-client';
import type { Broker } from '@vireo/broker';

export function registerLimitMetrics(register: Registry, broker: Broker): void {
  new Counter({
    name: 'vireo_listener_conn_rate_limited_total',
    help: 'Connections that waited for the max_conn_rate of their listener (accepted, not read until the rate allowed).',
    labelNames: ['listener'],
    registers: [register],
    collect() {
      this.reset();
      for (const l of broker.listenerStats()) this.inc({ listener: l.name }, l.connRateLimited);
    },
  });
  new Counter({
    name: 'vireo_client_rate_limited_total',
    help: 'Times the reads of a client were paused by messages_rate or bytes_rate (one per pause, not per packet).',
    labelNames: ['kind'],
    registers: [register],
    collect() {
      this.reset();
      const c = broker.clientRateLimited;
      this.inc({ kind: 'messages' }, c.messages);
      this.inc({ kind: 'bytes' }, c.bytes);
    },
  });
}

/**
 * Overload protection and force_shutdown (the broker's `guard` counters), read at scrape time:
 * `vireo_overload` (1 while overloaded), the CONNECTs it refused or delayed, the QoS 0
 * messages it shed, and the clients force_shutdown disconnected, by EMQX's reason.
 */
import { Counter, type Registry } from 'prom-client';
import { scrapedCounter, scrapedGauge } from './scraped-metrics.js';
import type { Broker, GuardState } from '@vireo/broker';

export function registerGuardMetrics(register: Registry, broker: Broker): void {
  const g = broker.guard;
  const counter = (name: string, help: string, read: (g: GuardState) => number) => scrapedCounter(register, name, help, () => read(g));
  scrapedGauge(register, 'vireo_overload', 'Whether overload protection finds this node overloaded now (1) or not (0); see the `overload` alarm.', () => (g.overloaded ? 1 : 0));
  counter('vireo_overload_new_conn_refused', 'CONNECTs refused with 0x89 Server busy (3.1.1: 3 Server unavailable) while the node was overloaded.', (x) => x.refusedConnects);
  counter('vireo_overload_new_conn_delayed', 'CONNECTs delayed by overload_protection.backoff_delay while the node was overloaded.', (x) => x.delayedConnects);
  counter('vireo_overload_shed_messages', 'QoS 0 messages not sent to a client with a write backlog while the node was overloaded.', (x) => x.shedMessages);
  new Counter({
    name: 'vireo_force_shutdown',
    help: 'Clients disconnected by force_shutdown: mailbox_overflow (over max_mailbox_size messages arrived while over 1MB waited for the socket) or proc_heap_too_big (max_heap_size bytes).',
    labelNames: ['reason'],
    registers: [register],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(g.forceShutdowns)) this.inc({ reason }, n);
    },
  });
}

/**
 * Rebalancing on this node, for Prometheus: whether it coordinates one (by state) or gives
 * load away as a donor, and what it moved (`vireo_rebalance_*`).
 */
import { Gauge, type Registry } from 'prom-client';
import { scrapedCounter } from './scraped-metrics.js';

/** What the rebalance parts report (@vireo/rebalance, through the server). */
export interface RebalanceMetricsSource {
  /** The coordinator's state, or undefined when this node coordinates none. */
  coordinatorState(): string | undefined;
  /** Whether this node is a donor now. */
  donor(): boolean;
  /** Totals since start. */
  totals(): { finished: number; aborted: number; evictedConnections: number; evictedSessions: number };
}

const STATES = ['wait_health_check', 'evicting_conns', 'wait_takeover', 'evicting_sessions'];

export function registerRebalanceMetrics(register: Registry, src: RebalanceMetricsSource): void {
  new Gauge({
    name: 'vireo_rebalance_coordinator',
    help: 'A rebalance this node coordinates: 1 for its current state, 0 for the others (vireo ctl rebalance node-status)',
    labelNames: ['state'],
    registers: [register],
    collect() {
      const s = src.coordinatorState();
      for (const state of STATES) this.set({ state }, s === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vireo_rebalance_donor',
    help: 'This node gives load away to a rebalance (availability_check answers 503): 1, else 0',
    registers: [register],
    collect() {
      this.set(src.donor() ? 1 : 0);
    },
  });
  const counter = (name: string, help: string, key: keyof ReturnType<RebalanceMetricsSource['totals']>) => scrapedCounter(register, name, help, () => src.totals()[key]);
  counter('vireo_rebalance_finished_total', 'Rebalances this node coordinated that ended within the thresholds', 'finished');
  counter('vireo_rebalance_aborted_total', 'Rebalances this node coordinated that were stopped or aborted (a node taking part failed)', 'aborted');
  counter('vireo_rebalance_evicted_connections_total', 'Connections this node disconnected as a rebalance donor (DISCONNECT 0x9C)', 'evictedConnections');
  counter('vireo_rebalance_evicted_sessions_total', 'Offline sessions this node handed to other nodes as a rebalance donor', 'evictedSessions');
}

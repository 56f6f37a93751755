/**
 * The bounded-memory limits, for Prometheus (docs/limits.md): retained messages a limit
 * refused, and per peer the bytes waiting in its stream and the QoS 0 forwards dropped
 * because a peer that was not reading had too many waiting.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
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
  const peers = () => broker.cluster.peerStats?.().peers ?? [];
  new Gauge({
    name: 'vireo_cluster_peer_pending_bytes',
    help: "Bytes written to a peer's stream that it has not read yet (forwards wait past cluster.rpc.max_pending_bytes).",
    labelNames: ['peer'],
    registers: [register],
    collect() {
      this.reset();
      for (const p of peers()) this.set({ peer: p.node }, p.pendingBytes ?? 0);
    },
  });
  new Counter({
    name: 'vireo_cluster_forward_dropped_total',
    help: 'QoS 0 messages not forwarded to a peer whose stream was past cluster.rpc.max_pending_bytes (reason queue_full).',
    labelNames: ['peer', 'reason'],
    registers: [register],
    collect() {
      this.reset();
      for (const p of peers()) this.inc({ peer: p.node, reason: 'queue_full' }, p.droppedQos0 ?? 0);
    },
  });
}

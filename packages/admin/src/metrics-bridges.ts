/** `vireo_bridge_*`: each MQTT bridge's counters and connection state, read at scrape time. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BridgeMetrics, BridgeSource } from './routes-bridges.js';

export function registerBridgeMetrics(register: Registry, bridges: () => readonly BridgeSource[]): void {
  const counter = (name: string, help: string, key: keyof BridgeMetrics) =>
    new Counter({
      name,
      help,
      labelNames: ['bridge'],
      registers: [register],
      collect() {
        this.reset();
        for (const b of bridges()) this.inc({ bridge: `mqtt:${b.info().name}` }, b.stats()[key]);
      },
    });
  counter('vireo_bridge_matched', "Local messages that matched a bridge's egress filter.", 'matched');
  counter('vireo_bridge_success', 'Egress messages the remote broker acknowledged (QoS 1/2) or that were written (QoS 0).', 'success');
  counter('vireo_bridge_failed', 'Egress messages that failed (QoS 0 whose connection closed before the write).', 'failed');
  counter('vireo_bridge_dropped', "Egress messages dropped because the bridge's buffer was full (resource_opts.max_buffer_bytes).", 'dropped');
  counter('vireo_bridge_received', 'Ingress messages received from the remote broker and published on this node.', 'received');
  new Gauge({
    name: 'vireo_bridge_queuing',
    help: 'Egress messages waiting or not yet acknowledged.',
    labelNames: ['bridge'],
    registers: [register],
    collect() {
      this.reset();
      for (const b of bridges()) this.set({ bridge: `mqtt:${b.info().name}` }, b.stats().queuing);
    },
  });
  new Gauge({
    name: 'vireo_bridge_connected',
    help: '1 while the bridge is connected to its remote broker, else 0.',
    labelNames: ['bridge'],
    registers: [register],
    collect() {
      this.reset();
      for (const b of bridges()) this.set({ bridge: `mqtt:${b.info().name}` }, b.stats().status === 'connected' ? 1 : 0);
    },
  });
}

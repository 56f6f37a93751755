/**
 * Prometheus metrics (prom-client), named as EMQX names them with `emqx_` → `vireo_`. Every
 * value is read from the broker's plain counters when Prometheus scrapes: nothing is added to
 * the publish path. Counters are set from those totals at scrape time.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Broker } from '@vireo/broker';

type Read = (b: Broker) => number;

export function createMetrics(broker: Broker): Registry {
  const register = new Registry();
  register.setDefaultLabels({ node: broker.options.nodeName });
  // process metrics: CPU, memory, heap, event-loop lag, GC
  collectDefaultMetrics({ register, prefix: 'vireo_' });

  const gauge = (name: string, help: string, read: Read) =>
    new Gauge({
      name,
      help,
      registers: [register],
      collect() {
        this.set(read(broker));
      },
    });
  const counter = (name: string, help: string, read: Read) =>
    new Counter({
      name,
      help,
      registers: [register],
      collect() {
        this.reset();
        this.inc(read(broker));
      },
    });

  const s = () => broker.stats;
  gauge('vireo_connections_count', 'Sessions with a connection or kept for a disconnected client (EMQX connections.count).', (b) => b.sessions.size);
  gauge('vireo_live_connections_count', 'Connected clients.', (b) => b.channels.size);
  gauge('vireo_live_connections_max', 'Most connections open at once since start.', () => s().connectionsMax);
  gauge('vireo_sessions_count', 'Sessions, connected or not.', (b) => b.sessions.size);
  gauge('vireo_topics_count', 'Distinct topic filters in the route table.', (b) => b.router.topicCount);
  gauge('vireo_subscriptions_count', 'Subscriptions, shared ones included.', (b) => b.router.subscriptionCount);
  gauge('vireo_subscriptions_shared_count', 'Shared subscriptions.', (b) => b.router.subscriptionCount - b.router.direct.size);
  gauge('vireo_retained_count', 'Retained messages.', (b) => b.retainer.size);
  gauge('vireo_cluster_nodes_running', 'Nodes of the cluster that are running, this one included.', (b) => b.cluster.nodes().length);

  counter('vireo_messages_received', 'PUBLISH messages received from clients.', () => s().msgIn);
  counter('vireo_messages_sent', 'PUBLISH messages sent to clients.', () => s().msgOut);
  counter('vireo_packets_received', 'MQTT packets received.', () => s().packetsIn);
  counter('vireo_packets_sent', 'MQTT packets sent.', () => s().packetsOut);
  counter('vireo_client_connected', 'Successful CONNECTs.', () => s().connected);
  counter('vireo_client_disconnected', 'Connections of connected clients that ended.', () => s().disconnected);
  counter('vireo_session_takenover', 'Sessions taken over by a new connection of the same client id.', () => s().takeovers);
  counter('vireo_session_discarded', 'Sessions discarded by a clean-start connection of the same client id.', () => s().discards);
  counter('vireo_client_kicked', 'Clients disconnected by an administrator.', () => s().kicks);
  counter('vireo_authentication_success', 'CONNECTs the authenticate hook accepted.', () => s().authSuccess);
  counter('vireo_authentication_failure', 'CONNECTs the authenticate hook refused.', () => s().authFailure);
  counter('vireo_authorization_deny', 'PUBLISH and SUBSCRIBE requests the authorize hook refused.', () => s().aclDenied);

  new Counter({
    name: 'vireo_messages_dropped',
    help: 'Messages dropped, by reason (no_subscribers, queue_full, expired, acl_denied, qos0_msg, too_large, …).',
    labelNames: ['reason'],
    registers: [register],
    collect() {
      this.reset();
      let total = 0;
      for (const [reason, n] of s().droppedBy) {
        this.inc({ reason }, n);
        total += n;
      }
      if (total === 0) this.inc({ reason: 'no_subscribers' }, 0);
    },
  });
  new Gauge({
    name: 'vireo_listener_connections',
    help: 'Open connections per listener.',
    labelNames: ['listener'],
    registers: [register],
    collect() {
      this.reset();
      for (const l of broker.listenerStats()) this.set({ listener: l.name }, l.connections);
    },
  });
  new Counter({
    name: 'vireo_listener_shutdown_count',
    help: 'Connections that ended, per listener and reason (EMQX shutdown_count).',
    labelNames: ['listener', 'reason'],
    registers: [register],
    collect() {
      this.reset();
      for (const l of broker.listenerStats()) for (const [reason, n] of Object.entries(l.shutdownCount)) this.inc({ listener: l.name, reason }, n);
    },
  });
  return register;
}

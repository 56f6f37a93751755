/**
 * Prometheus metrics (prom-client), named as EMQX names them with `emqx_` → `vireo_`. Every
 * value is read from the broker's plain counters when Prometheus scrapes: nothing is added to
 * the publish path. Counters are set from those totals at scrape time.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { Broker, HistogramView, PacketType } from '@vireo/broker';
import { registerBridgeMetrics } from './metrics-bridges.js';
import { registerMemoryMetrics } from './metrics-memory.js';
import { registerLimitMetrics } from './metrics-limits.js';
import type { BridgeSource } from './routes-bridges.js';

type Read = (b: Broker) => number;

/** One webhook's counters (the bridge's `Webhook.stats`), named by its config key. */
export interface WebhookMetricsSource {
  readonly options: { readonly name: string };
  readonly stats: { queued: number; queuedBytes?: number; sent: number; failed: number; retried: number; dropped: number };
}

export interface MetricsOptions {
  /**
   * `prometheus.enable`; false: no Node.js process collectors (event-loop delay monitor, GC
   * observer), no latency sampling, and the scrape paths answer 404. The broker's plain
   * counters stay: `/api/v5/stats`, `/metrics` of the API and `$SYS` read them too.
   */
  enable?: boolean;
  /** Deliveries sampled for `vireo_delivery_latency_seconds`: one message in this many (default 16). */
  latencySampleEvery?: number;
  /** The node's webhooks, for the `vireo_webhook_*` counters. */
  webhooks?: () => readonly WebhookMetricsSource[];
  /** The node's MQTT bridges, for the `vireo_bridge_*` series. */
  bridges?: () => readonly BridgeSource[];
}

/** The reasons EMQX always reports, so a rate() over them works before the first drop. */
const DROP_REASONS = ['no_subscribers', 'expired', 'queue_full', 'acl_denied'];

/**
 * A Prometheus histogram read from plain bucket counters at scrape time (prom-client's own
 * Histogram would need a call per observation).
 */
function histogram(register: Registry, name: string, help: string, labelName: string | undefined, read: () => { label?: string; h: HistogramView }[]): void {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const { label, h } of read()) {
        const base: Record<string, string> = labelName && label !== undefined ? { [labelName]: label } : {};
        let cum = 0;
        h.buckets.forEach((le, i) => {
          cum += h.counts[i];
          values.push({ metricName: `${name}_bucket`, labels: { ...base, le }, value: cum });
        });
        values.push({ metricName: `${name}_bucket`, labels: { ...base, le: '+Inf' }, value: h.count });
        values.push({ metricName: `${name}_sum`, labels: base, value: h.sum });
        values.push({ metricName: `${name}_count`, labels: base, value: h.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  register.registerMetric(metric as unknown as Metric);
}

export function createMetrics(broker: Broker, opts: MetricsOptions = {}): Registry {
  const register = new Registry();
  register.setDefaultLabels({ node: broker.options.nodeName });
  // process metrics: CPU, memory, heap, event-loop lag, GC
  const enabled = opts.enable !== false;
  if (enabled) collectDefaultMetrics({ register, prefix: 'vireo_' });

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
  gauge('vireo_connections_count', 'Sessions with a connection or kept for a disconnected client (EMQX connections.count).', (b) => b.sessionCount);
  gauge('vireo_live_connections_count', 'Connected clients.', (b) => b.connectionCount);
  gauge('vireo_live_connections_max', 'Most connections open at once since start.', () => s().connectionsMax);
  gauge('vireo_sessions_count', 'Sessions, connected or not.', (b) => b.sessionCount);
  gauge('vireo_topics_count', 'Distinct topic filters in the route table.', (b) => b.routeCounts().topics);
  gauge('vireo_subscriptions_count', 'Subscriptions, shared ones included.', (b) => b.routeCounts().subscriptions);
  gauge('vireo_subscriptions_shared_count', 'Shared subscriptions.', (b) => b.routeCounts().shared);
  gauge('vireo_retained_count', 'Retained messages.', (b) => b.retainer.size);
  gauge('vireo_cluster_nodes_running', 'Nodes of the cluster that are running, this one included.', (b) => b.cluster.nodes().length);
  gauge(
    'vireo_cluster_nodes_stopped',
    'Nodes of the cluster view that are not running (stopped or down), as cluster status lists them, until autoclean or force-leave.',
    (b) => b.cluster.peerStats?.().stoppedNodes.length ?? 0,
  );
  gauge(
    'vireo_routes_count',
    "Routes in the cluster route table: this node's filters (shared: group and filter) plus every peer's.",
    (b) => b.cluster.peerStats?.().routes ?? b.routeCounts().topics,
  );

  counter('vireo_messages_received', 'PUBLISH messages received from clients.', () => s().msgIn);
  counter('vireo_messages_sent', 'PUBLISH messages sent to clients.', () => s().msgOut);
  counter('vireo_packets_received', 'MQTT packets received.', () => s().packetsIn);
  counter('vireo_packets_sent', 'MQTT packets sent.', () => s().packetsOut);
  for (const q of [0, 1, 2]) {
    counter(`vireo_messages_qos${q}_received`, `QoS ${q} PUBLISH messages received from clients.`, () => s().msgInQos[q]);
    counter(`vireo_messages_qos${q}_sent`, `QoS ${q} PUBLISH messages sent to clients.`, () => s().msgOutQos[q]);
  }
  counter('vireo_messages_delivered', "Messages written to a subscriber's connection (the message.delivered event).", () => s().delivered);
  counter('vireo_messages_acked', 'QoS 1/2 messages the subscriber acknowledged (PUBACK, PUBREC).', () => s().acked);
  counter('vireo_bytes_received', 'Bytes read from MQTT connections.', () => s().bytesIn);
  counter('vireo_bytes_sent', 'Bytes written to MQTT connections.', () => s().bytesOut);
  // EMQX's packets.<type>.received|sent, each in the direction the protocol allows
  const packets = (dir: 'received' | 'sent', types: PacketType[]) => {
    for (const t of types) {
      counter(`vireo_packets_${t}_${dir}`, `MQTT ${t.toUpperCase()} packets ${dir}.`, () => (dir === 'received' ? s().packetsReceived : s().packetsSent)[t]);
    }
  };
  packets('received', ['connect', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'unsubscribe', 'pingreq', 'disconnect', 'auth']);
  packets('sent', ['connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'suback', 'unsuback', 'pingresp', 'disconnect', 'auth']);
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
      for (const [reason, n] of s().droppedBy) this.inc({ reason }, n);
      for (const reason of DROP_REASONS) if (!s().droppedBy.has(reason)) this.inc({ reason }, 0);
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

  // per peer: read once per scrape for the three series
  const peers = () => broker.cluster.peerStats?.().peers ?? [];
  new Counter({
    name: 'vireo_cluster_forwarded_messages',
    help: 'Messages forwarded to each peer (one per message and peer, whatever its subscriber count there).',
    labelNames: ['peer'],
    registers: [register],
    collect() {
      this.reset();
      for (const p of peers()) this.inc({ peer: p.node }, p.forwardedMessages);
    },
  });
  new Counter({
    name: 'vireo_cluster_forwarded_bytes',
    help: 'Topic and payload bytes of the messages forwarded to each peer.',
    labelNames: ['peer'],
    registers: [register],
    collect() {
      this.reset();
      for (const p of peers()) this.inc({ peer: p.node }, p.forwardedBytes);
    },
  });
  histogram(
    register,
    'vireo_cluster_peer_rtt_seconds',
    'Round trip of a heartbeat probe to each peer over the stream that carries forwarded messages (queueing behind them included).',
    'peer',
    () => peers().map((p) => ({ label: p.node, h: p.rtt })),
  );
  histogram(
    register,
    'vireo_cluster_forward_ack_seconds',
    'From sending a frame of QoS 1/2 messages to a peer to its acknowledgement that it delivered them there (one observation per frame; frames sent again after a link outage count the outage).',
    'peer',
    () => peers().map((p) => ({ label: p.node, h: p.forwardAck })),
  );

  const latency = broker.deliveryLatency;
  if (enabled && latency.sampling === 0) latency.sample(opts.latencySampleEvery ?? 16);
  histogram(
    register,
    'vireo_delivery_latency_seconds',
    `From a message entering this node (PUBLISH received, or forwarded by a peer) to its PUBLISH written to a subscriber's connection, queueing included; one message in ${latency.sampling || 'none (off)'} sampled.`,
    undefined,
    () => [{ h: latency.histogram.view() }],
  );

  // registered with no webhook too: dashboards find the series' type either way
  const hooks = opts.webhooks ?? (() => []);
  const webhookCounter = (name: string, help: string, read: (st: WebhookMetricsSource['stats']) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['webhook'],
      registers: [register],
      collect() {
        this.reset();
        for (const w of hooks()) this.inc({ webhook: w.options.name }, read(w.stats));
      },
    });
  webhookCounter('vireo_webhook_sent', 'Webhook events the endpoint accepted (2xx).', (st) => st.sent);
  webhookCounter('vireo_webhook_failed', 'Webhook events dropped after their request failed every retry (error, timeout or non-2xx).', (st) => st.failed);
  webhookCounter('vireo_webhook_retried', 'Webhook requests retried.', (st) => st.retried);
  webhookCounter('vireo_webhook_dropped_queue_full', 'Webhook events pushed out of a full queue (webhook.*.max_queue, max_queue_bytes).', (st) => st.dropped);
  new Gauge({
    name: 'vireo_webhook_queuing',
    help: 'Webhook events waiting to be sent.',
    labelNames: ['webhook'],
    registers: [register],
    collect() {
      this.reset();
      for (const w of hooks()) this.set({ webhook: w.options.name }, w.stats.queued);
    },
  });
  new Gauge({
    name: 'vireo_webhook_queuing_bytes',
    help: 'Bytes of webhook events (JSON) waiting to be sent (webhook.*.max_queue_bytes).',
    labelNames: ['webhook'],
    registers: [register],
    collect() {
      this.reset();
      for (const w of hooks()) this.set({ webhook: w.options.name }, w.stats.queuedBytes ?? 0);
    },
  });

  registerBridgeMetrics(register, opts.bridges ?? (() => []));
  registerMemoryMetrics(register, broker);
  registerLimitMetrics(register, broker);
  return register;
}

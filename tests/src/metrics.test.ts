/**
 * Prometheus metrics that need a scenario to mean anything: drops by reason, the sampled
 * delivery latency histogram, webhook counters, the `prometheus.enable` switch, and a real
 * two-node cluster for per-peer forwarding, round trips, routes and stopped nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { startAdmin, ApiKeys, type AdminServer } from '@vireo/admin';
import { Webhook } from '@vireo/bridge';
import { freePort, startBroker, connect, collect, endAll, waitFor, sleep } from './harness.js';
import { spawnVireo } from './vireo-process.js';
import { startNode, waitMembers, syncRoutes, type ClusterNode } from './cluster-nodes.js';

const T = { timeout: 120_000 };

/** Value of the sample `name{labels}` (label order as written does not matter); undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_0-9]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** A histogram's buckets are cumulative, end with +Inf = count, and the sum is plausible. */
function checkHistogram(text: string, name: string, labels: Record<string, string> = {}): { count: number; sum: number; le: Map<string, number> } {
  const le = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const l = /le="([^"]+)"/.exec(line)![1];
    if (sample(line, `${name}_bucket`, { ...labels, le: l }) !== undefined) le.set(l, Number(line.split(' ').pop()));
  }
  const count = sample(text, `${name}_count`, labels)!;
  const sum = sample(text, `${name}_sum`, labels)!;
  const values = [...le.values()];
  assert.ok(values.length > 5, `${name} has buckets`);
  for (let i = 1; i < values.length; i++) assert.ok(values[i] >= values[i - 1], `${name} buckets are cumulative`);
  assert.equal(le.get('+Inf'), count);
  return { count, sum, le };
}

test('drops by reason (no_subscribers, acl_denied, queue_full, expired), delivery latency, webhook counters', T, async () => {
  const tb = await startBroker({
    nodeName: 'vireo@metrics-test',
    mqtt: { maxMqueueLen: 1 },
    // no $SYS client events: they would be no_subscribers drops of their own
    sys: { clientConnected: false, clientDisconnected: false },
    hooks: { authorize: (_c, action, topic) => !(action === 'publish' && topic.startsWith('deny/')) },
  });
  // a webhook whose endpoint refuses everything: failures and retries show in the scrape
  const refusing = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(503).end()));
  await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
  const hook = new Webhook(
    tb.broker,
    {
      name: 'default',
      url: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/`,
      events: ['message.publish'],
      topic: 'nobody/#',
      headers: {},
      batchSize: 1,
      maxQueue: 100,
      requestTimeout: 2000,
      maxRetries: 1,
      retryBackoff: 10,
      payloadEncoding: 'plain',
    },
    pino({ level: 'silent' }),
  );
  hook.start();
  let admin: AdminServer | undefined;
  let sub, pub, slow, exp, acker;
  try {
    admin = await startAdmin(tb.broker, {
      host: '127.0.0.1',
      port: await freePort(),
      apiKeys: new ApiKeys(),
      prometheusAuth: false,
      metrics: { latencySampleEvery: 4, webhooks: () => [hook] },
    });
    const scrape = async () => (await fetch(`http://127.0.0.1:${admin!.address().port}/api/v5/prometheus/stats`)).text();
    const before = await scrape();
    for (const reason of ['acl_denied', 'queue_full', 'expired']) {
      assert.equal(sample(before, 'vireo_messages_dropped', { reason }), 0, `${reason} reported before any drop`);
    }
    // the node's own $SYS facts at start went to nobody
    const noSubs0 = sample(before, 'vireo_messages_dropped', { reason: 'no_subscribers' })!;

    // persistent sessions, then offline: one fills its queue of 1, the other gets a message that expires
    slow = await connect(tb.url, { clientId: 'slow', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 60 } });
    await slow.subscribeAsync('q/#', { qos: 1 });
    exp = await connect(tb.url, { clientId: 'exp', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 60 } });
    await exp.subscribeAsync('e/#', { qos: 1 });
    await endAll(slow, exp);
    slow = exp = undefined;

    sub = await connect(tb.url, { clientId: 'lat' });
    await sub.subscribeAsync('lat/#', { qos: 0 });
    pub = await connect(tb.url, { clientId: 'pub', protocolVersion: 5 });
    const got = collect(sub, 200);
    for (let i = 0; i < 200; i++) pub.publish('lat/x', String(i), { qos: 0 });
    await got;
    acker = await connect(tb.url, { clientId: 'acker' });
    await acker.subscribeAsync('ack/#', { qos: 1 });
    const acks = collect(acker, 2);
    await pub.publishAsync('ack/1', 'a', { qos: 1 });
    await pub.publishAsync('ack/2', 'b', { qos: 1 });
    await acks;
    await waitFor(() => tb.broker.stats.acked === 2, 'both PUBACKs from the subscriber');
    await pub.publishAsync('nobody/here', 'x', { qos: 1 });
    await pub.publishAsync('deny/x', 'x', { qos: 1 }).catch(() => undefined);
    for (let i = 0; i < 3; i++) await pub.publishAsync('q/1', String(i), { qos: 1 });
    await pub.publishAsync('e/1', 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await sleep(1100);
    exp = await connect(tb.url, { clientId: 'exp', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 0 } });
    await waitFor(() => (tb.broker.stats.droppedBy.get('expired') ?? 0) === 1, 'the expired drop');
    await waitFor(() => hook.stats.failed === 1, 'the webhook gives up after its retry');

    const text = await scrape();
    assert.equal(sample(text, 'vireo_messages_dropped', { reason: 'no_subscribers', node: 'vireo@metrics-test' })! - noSubs0, 1);
    assert.equal(sample(text, 'vireo_messages_dropped', { reason: 'acl_denied' }), 1);
    assert.equal(sample(text, 'vireo_messages_dropped', { reason: 'queue_full' }), 2, 'queue of 1, three messages');
    assert.equal(sample(text, 'vireo_messages_dropped', { reason: 'expired' }), 1);

    // by QoS, packets by type, bytes: what the clients above sent and got
    const v = (name: string) => sample(text, name, { node: 'vireo@metrics-test' });
    assert.equal(v('vireo_messages_qos0_received'), 200);
    assert.equal(v('vireo_messages_qos0_sent'), 200);
    assert.equal(v('vireo_messages_qos1_sent'), 2, 'ack/1 and ack/2 to acker');
    assert.equal(v('vireo_messages_qos2_received'), 0);
    assert.equal(v('vireo_messages_delivered'), 202);
    assert.equal(v('vireo_messages_acked'), 2);
    assert.equal(v('vireo_packets_puback_received'), 2);
    assert.equal(v('vireo_packets_puback_sent'), 8, 'one per QoS 1 PUBLISH of pub, refused ones included');
    assert.equal(v('vireo_packets_publish_sent'), 202);
    assert.equal(v('vireo_packets_connect_received'), 6);
    assert.equal(v('vireo_packets_connack_sent'), 6);
    assert.equal(v('vireo_packets_subscribe_received'), 4);
    assert.equal(v('vireo_packets_suback_sent'), 4);
    // every PUBLISH counts as a message received, the refused one included
    assert.equal(v('vireo_packets_publish_received'), v('vireo_messages_qos0_received')! + v('vireo_messages_qos1_received')! + v('vireo_messages_qos2_received')!);
    // 200 QoS 0 PUBLISH of at least 2 + 2 + 5 + 1 bytes each went in and came out
    assert.ok(v('vireo_bytes_received')! > 200 * 10 && v('vireo_bytes_sent')! > 200 * 10, 'bytes both ways');

    // one message in 4 sampled, each delivered once to 'lat' (the other topics' deliveries are few)
    const lat = checkHistogram(text, 'vireo_delivery_latency_seconds', { node: 'vireo@metrics-test' });
    assert.ok(lat.count >= 45 && lat.count <= 60, `sampled deliveries: ${lat.count}`);
    assert.ok(lat.sum > 0 && lat.sum / lat.count < 0.5, `mean latency ${lat.sum / lat.count} s`);

    // the unrouted message's publish event went to the refusing endpoint: one try, one retry, then given up
    assert.equal(sample(text, 'vireo_webhook_failed', { webhook: 'default' }), 1);
    assert.equal(sample(text, 'vireo_webhook_retried', { webhook: 'default' }), 1);
    assert.equal(sample(text, 'vireo_webhook_sent', { webhook: 'default' }), 0);
    assert.equal(sample(text, 'vireo_webhook_queuing', { webhook: 'default' }), 0);
    assert.ok(text.includes('# TYPE vireo_nodejs_eventloop_lag_seconds gauge'), 'Node.js process metrics');
  } finally {
    hook.close();
    await endAll(sub, pub, slow, exp, acker);
    await admin?.close();
    await tb.close();
    refusing.closeAllConnections();
    refusing.close();
  }
});

test('prometheus.enable false: the scrape answers 404 and no delivery is sampled; vireo start reads it from VIREO_PROMETHEUS__ENABLE', T, async () => {
  const tb = await startBroker();
  let admin: AdminServer | undefined;
  try {
    admin = await startAdmin(tb.broker, { host: '127.0.0.1', port: await freePort(), apiKeys: new ApiKeys(), prometheusAuth: false, metrics: { enable: false } });
    const res = await fetch(`http://127.0.0.1:${admin.address().port}/api/v5/prometheus/stats`);
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { message: string }).message, /prometheus\.enable/);
    assert.equal(tb.broker.deliveryLatency.sampling, 0);
  } finally {
    await admin?.close();
    await tb.close();
  }
  const api = await freePort();
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${api}`,
      VIREO_PROMETHEUS__ENABLE: 'false',
    },
  });
  try {
    await vireo.waitForLog('started', 10_000);
    assert.equal((await fetch(`http://127.0.0.1:${api}/metrics`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${api}/status`)).status, 200, 'the rest of the API is up');
  } finally {
    vireo.kill('SIGTERM');
    await vireo.waitExit(8000);
  }
});

test('two real nodes: forwarded messages and bytes per peer, heartbeat and forward-to-ack round trips, routes, nodes running then stopped', { timeout: 120_000 }, async () => {
  const nodes: ClusterNode[] = [];
  let sub, pub;
  try {
    const api = [await freePort(), await freePort()];
    const rpc = [await freePort(), await freePort()];
    const mqtt = [await freePort(), await freePort()];
    for (let i = 0; i < 2; i++) {
      nodes.push(
        startNode({
          name: `metr${i}@127.0.0.1`,
          rpcPort: rpc[i],
          mqttPort: mqtt[i],
          seeds: rpc,
          extraEnv: { VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${api[i]}` },
        }),
      );
    }
    const [a, b] = nodes;
    // process start-up alone takes 10-15 s on a loaded machine
    await Promise.all(
      nodes.map((n) =>
        waitMembers(
          n,
          nodes.map((x) => x.name),
          40_000,
        ),
      ),
    );
    const scrapeA = async () => (await fetch(`http://127.0.0.1:${api[0]}/api/v5/prometheus/stats`)).text();

    sub = await connect(b.url, { clientId: 'far-sub' });
    await sub.subscribeAsync('fwd/#', { qos: 1 });
    pub = await connect(a.url, { clientId: 'near-pub' });
    await syncRoutes(pub, [sub]);
    const peer = { peer: b.name };
    const before = await scrapeA();
    const m0 = sample(before, 'vireo_cluster_forwarded_messages', peer) ?? 0;
    const b0 = sample(before, 'vireo_cluster_forwarded_bytes', peer) ?? 0;
    const n = 100;
    const got = collect(sub, n);
    for (let i = 0; i < n; i++) pub.publish('fwd/abc', 'payload-12', { qos: 1 });
    await got;
    // heartbeat probes go once a second: two round trips measured
    let text = '';
    await waitFor(async () => (sample((text = await scrapeA()), 'vireo_cluster_peer_rtt_seconds_count', peer) ?? 0) >= 2, 'two measured round trips', 15_000, 200).catch(
      () => undefined,
    );
    assert.equal((sample(text, 'vireo_cluster_forwarded_messages', peer) ?? 0) - m0, n);
    assert.equal((sample(text, 'vireo_cluster_forwarded_bytes', peer) ?? 0) - b0, n * ('fwd/abc'.length + 'payload-12'.length));
    const rtt = checkHistogram(text, 'vireo_cluster_peer_rtt_seconds', peer);
    assert.ok(rtt.count >= 2, `round trips measured: ${rtt.count}`);
    assert.ok(rtt.sum / rtt.count < 1, `mean round trip ${rtt.sum / rtt.count} s on loopback`);
    // the QoS 1 messages went in acknowledged frames: at least one round trip, at most one per message
    const ack = checkHistogram(text, 'vireo_cluster_forward_ack_seconds', peer);
    assert.ok(ack.count >= 1 && ack.count <= n, `acknowledged frames: ${ack.count}`);
    assert.ok(ack.sum / ack.count < 2, `mean forward-to-ack ${ack.sum / ack.count} s on loopback`);
    assert.equal(sample(text, 'vireo_cluster_nodes_running'), 2);
    assert.equal(sample(text, 'vireo_cluster_nodes_stopped'), 0);
    // far-sub's fwd/# on b (the probe subscription of syncRoutes is gone again)
    assert.equal(sample(text, 'vireo_routes_count'), 1);

    await endAll(sub);
    sub = undefined;
    b.proc.kill('SIGKILL');
    await b.proc.waitExit(5000);
    await waitFor(() => a.proc.logs().some((l) => l.msg === 'Cluster node down'), 'b seen down', 15_000);
    const after = await scrapeA();
    assert.equal(sample(after, 'vireo_cluster_nodes_running'), 1);
    assert.equal(sample(after, 'vireo_cluster_nodes_stopped'), 1);
    assert.equal(sample(after, 'vireo_routes_count'), 0, "b's routes purged");
  } finally {
    await endAll(sub, pub);
    for (const n of nodes) n.proc.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.proc.waitExit(5000).catch(() => undefined)));
  }
});

/**
 * Two identical publishes from one client in the same millisecond that straddle a session's
 * move are two messages, and both reach the subscriber (cm/copies.ts, peer protocol 4).
 * Two real nodes in this process (Broker + GrpcCluster over loopback, a real MQTT listener
 * each, a real MQTT subscriber); the session is pushed from node a to node b as an
 * evacuation does. The two publishes are made on b at the moments that split them: the
 * first just before b installs the session (b forwards it to a, whose stand-in queues it,
 * so it reaches b only in the stand-in queue), the second once a's stand-in ended, just
 * before its queue is applied (it reaches only b, held back for the moved session). Both
 * carry the same publisher, publish time (set: what the broker stamps on two publishes in
 * one millisecond), topic and payload; matched by those alone, the second was taken for a
 * copy of the first and dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { newMessageId, type Message, type SessionState } from '@vireo/broker';
import { startCluster, type GrpcCluster } from '@vireo/cluster';
import mqtt from 'mqtt';
import { connect, endAll, quietFor, startBroker, waitFor, type TestBroker } from './harness.js';

const COOKIE = 'takeover-origin-test-cookie-0123456789';
const log = pino({ level: process.env.VIREO_TEST_LOG ?? 'silent' });

test('two identical publishes in the same millisecond on either side of a session move both arrive', { timeout: 60_000 }, async () => {
  const clusters: GrpcCluster[] = [];
  const brokers: TestBroker[] = [];
  const clients: mqtt.MqttClient[] = [];
  try {
    const seeds: string[] = [];
    const options = (node: string) => ({
      node,
      cookie: COOKIE,
      bind: { host: '127.0.0.1', port: 0 },
      discovery: { strategy: 'static' as const, candidates: async () => seeds, close() {} },
      sharedStrategy: 'round_robin' as const,
      logger: log,
      retryMs: 200,
    });
    const ca = await startCluster(options('oa@127.0.0.1'));
    clusters.push(ca);
    const cb = await startCluster(options('ob@127.0.0.1'));
    clusters.push(cb);
    seeds.push(`127.0.0.1:${ca.rpcPort}`, `127.0.0.1:${cb.rpcPort}`);
    const a = await startBroker({ nodeName: ca.node, cluster: ca, logger: log });
    brokers.push(a);
    const b = await startBroker({ nodeName: cb.node, cluster: cb, logger: log });
    brokers.push(b);
    await waitFor(() => ca.nodes().length === 2 && cb.nodes().length === 2, 'the two nodes to see each other', 20_000);

    // the subscriber's persistent session lives on a, offline
    const sub = await connect(a.url, { clientId: 'og-sub', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
    await sub.subscribeAsync('og/t', { qos: 1 });
    await endAll(sub);
    // b knows a's route for it (forwards there)
    await waitFor(() => b.broker.cluster.forward(probe()) > 0, 'b to have a’s route', 10_000);

    // the two publishes: one client, one millisecond, one topic, one payload
    const at = Date.now();
    const publish = (): void => {
      b.broker.publish({
        id: newMessageId(),
        topic: 'og/t',
        payload: Buffer.from('same'),
        qos: 1,
        retain: false,
        properties: undefined,
        from: 'og-pub',
        timestamp: at,
        expiresAt: 0,
      });
    };
    // first: just before b installs the session: forwarded to a, where the stand-in queues it
    const install = b.broker.pushInstall.bind(b.broker);
    b.broker.pushInstall = (s: SessionState): void => {
      if (s.clientId === 'og-sub') publish();
      install(s);
    };
    // second: once a ended its stand-in (its route is gone, so only b has it), just before the
    // stand-in queue is applied: held back for the moved session
    const rest = b.broker.takeoverRest.bind(b.broker);
    let split = 0;
    b.broker.takeoverRest = (clientId, deliveries): void => {
      if (clientId === 'og-sub') {
        split++;
        assert.equal(b.broker.cluster.forward(probe()), 0, 'a no longer routes og/t');
        publish();
      }
      rest(clientId, deliveries);
    };

    assert.equal(await ca.pushSession('og-sub', cb.node), true, 'b took the session');
    await waitFor(() => split === 1, 'the stand-in queue on b', 10_000);

    const got: string[] = [];
    const c = mqtt.connect(b.url, { clientId: 'og-sub', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 0 });
    clients.push(c);
    // (the route probes above were queued too: only the two publishes count)
    c.on('message', (_t, p) => p.toString() === 'same' && got.push(p.toString()));
    const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      c.once('connect', resolve);
      c.once('error', reject);
    });
    assert.equal(connack.sessionPresent, true, 'the client finds its session on b');
    await waitFor(() => got.length >= 2, `both publishes (got ${got.length})`, 10_000);
    await quietFor(300, () => got.length === 2, 'no third copy');
    assert.deepEqual(got, ['same', 'same']);
  } finally {
    await endAll(...clients);
    for (const tb of brokers.reverse()) await tb.close();
    await Promise.all(clusters.map((cl) => cl.close()));
  }
});

/** A QoS 0 message nobody receives, to ask whether b forwards og/t (ClusterLink.forward counts peers). */
function probe(): Message {
  return { id: newMessageId(), topic: 'og/t', payload: Buffer.from('probe'), qos: 0, retain: false, properties: undefined, from: 'og-probe', timestamp: Date.now(), expiresAt: 0 };
}

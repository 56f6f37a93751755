/**
 * Bounded memory with real MQTT clients (docs/limits.md): the retained store's limits
 * (`retainer.backend.max_retained_messages`, `retainer.max_payload_size`) refuse to retain
 * but still deliver, a session's queue bounded in bytes (`mqtt.max_mqueue_bytes`) drops
 * its oldest messages, counted as `queue_full` and logged, and so does a webhook's queue
 * (`webhook.*.max_queue_bytes`) behind a real HTTP endpoint that stalls.
 */
import { test } from 'node:test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { Message, DropReason } from '@vireo/broker';
import { Webhook } from '@vireo/bridge';
import { connect, endAll, quietFor, startBroker, waitFor, withBroker, type TestBroker } from './harness.js';
import { Inbox } from './observe.js';
import { captureLog } from './log-capture.js';

const T = { timeout: 20_000 };

/** What a new subscriber to `filter` receives as retained messages (topic → payload), read until a sentinel. */
async function retainedFor(tb: TestBroker, filter: string, clientId: string): Promise<Record<string, string>> {
  const c = await connect(tb.url, { clientId, protocolVersion: 5 });
  const inbox = new Inbox(c);
  try {
    await c.subscribeAsync(filter, { qos: 1 });
    await c.subscribeAsync(`sentinel/${clientId}`, { qos: 0 });
    tb.broker.publishMessage({ topic: `sentinel/${clientId}`, payload: 'end' });
    await inbox.waitPayload('end');
    const out: Record<string, string> = {};
    for (const m of inbox.msgs) if (!m.topic.startsWith('sentinel/')) out[m.topic] = m.payload;
    return out;
  } finally {
    inbox.stop();
    await endAll(c);
  }
}

test('max_retained_messages: a new topic past the limit is delivered but not retained; replacing and clearing still work', T, () => {
  const log = captureLog('warn');
  return withBroker({ logger: log.logger, mqtt: { maxRetainedMessages: 3 } }, async (tb) => {
    let pub: MqttClient | undefined;
    let live: MqttClient | undefined;
    try {
      pub = await connect(tb.url, { clientId: 'pub', protocolVersion: 5 });
      live = await connect(tb.url, { clientId: 'live', protocolVersion: 5 });
      await live.subscribeAsync('lim/#', { qos: 1 });
      const liveBox = new Inbox(live);
      for (const t of ['a', 'b', 'c']) await pub.publishAsync(`lim/${t}`, `${t}1`, { qos: 1, retain: true });
      await pub.publishAsync('lim/d', 'd1', { qos: 1, retain: true });
      await liveBox.waitPayload('d1');
      assert.deepEqual(await retainedFor(tb, 'lim/#', 'late1'), { 'lim/a': 'a1', 'lim/b': 'b1', 'lim/c': 'c1' }, 'the fourth topic is not retained');
      assert.equal(tb.broker.retainer.dropped.table_is_full, 1);
      const line = log.find('failed_to_retain_message')[0];
      assert.ok(line, 'the refusal is logged');
      assert.equal(line.reason, 'table_is_full');
      assert.equal(line.topic, 'lim/d');
      assert.equal(line.clientid, 'pub');

      // full: an existing topic's message is still replaced
      await pub.publishAsync('lim/b', 'b2', { qos: 1, retain: true });
      assert.deepEqual(await retainedFor(tb, 'lim/#', 'late2'), { 'lim/a': 'a1', 'lim/b': 'b2', 'lim/c': 'c1' });
      // clearing one frees a place for a new topic
      await pub.publishAsync('lim/a', '', { qos: 1, retain: true });
      await pub.publishAsync('lim/e', 'e1', { qos: 1, retain: true });
      assert.deepEqual(await retainedFor(tb, 'lim/#', 'late3'), { 'lim/b': 'b2', 'lim/c': 'c1', 'lim/e': 'e1' });
      assert.equal(tb.broker.retainer.dropped.table_is_full, 1, 'nothing else was refused');
      liveBox.stop();
    } finally {
      await endAll(pub, live);
    }
  });
});

test('retainer.max_payload_size: a larger retained payload reaches subscribers but is not retained (a replaced one stays)', T, () =>
  withBroker({ mqtt: { retainerMaxPayloadSize: 16 } }, async (tb) => {
    let pub: MqttClient | undefined;
    let live: MqttClient | undefined;
    try {
      pub = await connect(tb.url, { clientId: 'pub', protocolVersion: 5 });
      live = await connect(tb.url, { clientId: 'live', protocolVersion: 5 });
      await live.subscribeAsync('big/#', { qos: 1 });
      const liveBox = new Inbox(live);
      await pub.publishAsync('big/x', 'small', { qos: 1, retain: true });
      const big = 'x'.repeat(17);
      await pub.publishAsync('big/x', big, { qos: 1, retain: true });
      await pub.publishAsync('big/y', big, { qos: 1, retain: true });
      await liveBox.waitPayload(big);
      await waitFor(() => liveBox.msgs.filter((m) => m.payload === big).length === 2, 'both large publishes delivered');
      assert.deepEqual(await retainedFor(tb, 'big/#', 'late'), { 'big/x': 'small' }, 'the retained message before it stays');
      assert.equal(tb.broker.retainer.dropped.payload_too_large, 2);
      liveBox.stop();
    } finally {
      await endAll(pub, live);
    }
  }),
);

test('max_mqueue_bytes: an offline session keeps the newest messages that fit, drops the oldest as queue_full', T, () => {
  const log = captureLog('warn');
  // 5 topic bytes + 300 payload bytes each: three fit in 1000 bytes, a fourth does not
  return withBroker({ logger: log.logger, mqtt: { maxMqueueBytes: 1000, maxMqueueLen: 1000 } }, async (tb, clients) => {
    const dropped: [string, DropReason][] = [];
    tb.broker.on('message.dropped', (m: Message, reason: DropReason) => dropped.push([m.payload.toString().slice(0, 2), reason]));
    const pub = await connect(tb.url, { clientId: 'pub', protocolVersion: 5 });
    clients.push(pub);
    const opts = { clientId: 'offline', protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 60 } };
    const sub = await connect(tb.url, opts);
    await sub.subscribeAsync('mq/b', { qos: 1 });
    await endAll(sub);
    await waitFor(() => tb.broker.connection('offline') === undefined, 'the session to be offline');
    for (let i = 1; i <= 5; i++) await pub.publishAsync('mq/b', `m${i}`.padEnd(300, '.'), { qos: 1 });
    // one message larger than the whole budget is dropped itself, the queue stays
    await pub.publishAsync('mq/b', 'mX'.padEnd(1200, '.'), { qos: 1 });
    assert.deepEqual(dropped, [
      ['m1', 'queue_full'],
      ['m2', 'queue_full'],
      ['mX', 'queue_full'],
    ]);
    assert.equal(tb.broker.stats.droppedBy.get('queue_full'), 3);
    const line = log.find('Dropped msg due to mqueue is full')[0];
    assert.ok(line);
    assert.equal(line.clientid, 'offline');
    assert.equal(line.max_mqueue_bytes, 1000);

    // the inbox listens before CONNACK: queued messages may come in the same read
    const again = mqtt.connect(tb.url, { ...opts, reconnectPeriod: 0 });
    clients.push(again);
    const box = new Inbox(again);
    await waitFor(() => box.msgs.length === 3, 'the three queued messages');
    await quietFor(100, () => box.msgs.length === 3, 'nothing else');
    assert.deepEqual(
      box.msgs.map((m) => m.payload.slice(0, 2)),
      ['m3', 'm4', 'm5'],
    );
    box.stop();
  });
});

test('webhook max_queue_bytes: behind a stalled endpoint the queue stays under its bytes, the oldest dropped as queue_full; the rest arrive after', T, async () => {
  // a real HTTP endpoint that holds its first request until released
  let release: (() => void) | undefined;
  const held = new Promise<void>((r) => (release = r));
  const bodies: { payload: string }[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(data) as { payload: string });
      if (requests++ === 0) void held.then(() => res.end('ok'));
      else res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const log = captureLog('warn');
  const tb = await startBroker();
  const maxQueueBytes = 8 * 1024;
  const hook = new Webhook(
    tb.broker,
    {
      name: 'mem',
      url,
      events: ['message.publish'],
      topic: '#',
      headers: {},
      batchSize: 1,
      maxQueue: 10_000,
      maxQueueBytes,
      requestTimeout: 20_000,
      maxRetries: 0,
      retryBackoff: 50,
      payloadEncoding: 'plain',
    },
    log.logger,
  );
  hook.start();
  try {
    const n = 100;
    const payload = (i: number) => `p${String(i).padStart(3, '0')}`.padEnd(500, '.');
    tb.broker.publishMessage({ topic: 'wh/m', payload: payload(0) });
    await waitFor(() => requests === 1, 'the first request to reach the stalled endpoint');
    let most = 0;
    for (let i = 1; i < n; i++) {
      tb.broker.publishMessage({ topic: 'wh/m', payload: payload(i) });
      most = Math.max(most, hook.stats.queuedBytes);
    }
    assert.ok(most <= maxQueueBytes, `queued bytes ${most} stay under ${maxQueueBytes}`);
    const kept = hook.stats.queued;
    // ~700 bytes of JSON each: about 11 fit in 8KB, one is in flight, the rest were dropped
    assert.ok(kept >= 5 && kept < 20, `events kept: ${kept}`);
    assert.equal(hook.stats.dropped, n - 1 - kept);
    const line = log.find('Webhook queue full')[0];
    assert.ok(line, 'the drops are logged');
    assert.equal(line.reason, 'queue_full');
    assert.equal(line.max_queue_bytes, maxQueueBytes);

    release!();
    await waitFor(() => hook.stats.sent === 1 + kept, 'the kept events to be sent');
    const got = bodies.map((b) => b.payload.slice(0, 4));
    assert.equal(got[0], 'p000', 'the event in flight when the endpoint stalled');
    assert.deepEqual(
      got.slice(1),
      Array.from({ length: kept }, (_, i) => `p${String(n - kept + i).padStart(3, '0')}`),
      'then the newest ones, in order',
    );
    assert.equal(hook.stats.queuedBytes, 0);
  } finally {
    release!();
    hook.close();
    await tb.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Webhook, WEBHOOK_EVENTS, type WebhookOptions } from '@vireo/bridge';
import { freePort, startBroker, connect, collect, endAll, waitFor, closeHttp } from './harness.js';
import { spawnVireo } from './vireo-process.js';

const T = { timeout: 120_000 };
type Body = Record<string, unknown>;

/** A real HTTP endpoint; `respond` decides each answer (or never answers). */
async function endpoint(respond: (n: number, res: http.ServerResponse) => void = (_n, res) => res.end('ok')) {
  const bodies: unknown[] = [];
  const auth: (string | undefined)[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      bodies.push(JSON.parse(data));
      auth.push(req.headers.authorization);
      respond(n++, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    auth,
    close: () => closeHttp(server),
  };
}

function options(url: string, over: Partial<WebhookOptions> = {}): WebhookOptions {
  return {
    name: 't',
    url,
    events: WEBHOOK_EVENTS,
    topic: '#',
    headers: {},
    batchSize: 1,
    maxQueue: 10_000,
    requestTimeout: 2000,
    maxRetries: 3,
    retryBackoff: 50,
    payloadEncoding: 'plain',
    ...over,
  };
}

const actions = (bodies: unknown[]) => bodies.flatMap((b) => (Array.isArray(b) ? b : [b])).map((b) => (b as Body).action);

test('events reach the endpoint with EMQX webhook fields; the topic filter applies; headers are sent', T, async () => {
  const ep = await endpoint();
  const tb = await startBroker({ nodeName: 'vireo@hook-test' });
  const hook = new Webhook(tb.broker, options(ep.url, { topic: 'sensors/#', headers: { authorization: 'Bearer t0k3n' } }), pino({ level: 'silent' }));
  hook.start();
  let sub, pub;
  try {
    sub = await connect(tb.url, { clientId: 'sub-1', username: 'alice' });
    await sub.subscribeAsync('sensors/+', { qos: 1 });
    pub = await connect(tb.url, { clientId: 'pub-1', username: 'pat' });
    const got = collect(sub, 1);
    await pub.publishAsync('sensors/t1', '21.5', { qos: 1 });
    await pub.publishAsync('other/x', 'ignored', { qos: 1 });
    await pub.publishAsync('sensors/a/b', 'nobody listens', { qos: 1 });
    await got;
    await endAll(sub);
    sub = undefined;
    await waitFor(() => ['client_disconnected', 'message_delivered', 'message_dropped'].every((a) => actions(ep.bodies).includes(a)), 'the events');
    const all = ep.bodies as Body[];
    const connected = all.find((b) => b.action === 'client_connected' && b.clientid === 'sub-1')!;
    assert.equal(connected.username, 'alice');
    assert.equal(connected.ipaddress, '127.0.0.1');
    assert.equal(connected.node, 'vireo@hook-test');
    assert.equal(connected.keepalive, 60, "MQTT.js's default keepalive");
    assert.deepEqual(all.find((b) => b.action === 'session_subscribed')!.opts, { qos: 1, nl: 0, rap: 0, rh: 0 });
    const published = all.filter((b) => b.action === 'message_publish');
    assert.deepEqual(
      published.map((b) => [b.topic, b.payload, b.from_client_id, b.from_username, b.qos]),
      [
        ['sensors/t1', '21.5', 'pub-1', 'pat', 1],
        ['sensors/a/b', 'nobody listens', 'pub-1', 'pat', 1],
      ],
    );
    const dropped = all.filter((b) => b.action === 'message_dropped');
    assert.deepEqual(
      dropped.map((b) => [b.topic, b.reason, b.from_clientid]),
      [['sensors/a/b', 'no_subscribers', 'pub-1']],
    );
    const delivered = all.find((b) => b.action === 'message_delivered')!;
    assert.equal(delivered.clientid, 'sub-1');
    assert.deepEqual([delivered.username, delivered.from_username], ['alice', 'pat']);
    assert.equal(all.find((b) => b.action === 'client_disconnected' && b.clientid === 'sub-1')!.reason, 'tcp_closed');
    assert.ok(!all.some((b) => b.topic === 'other/x'), 'topics outside the filter are not sent');
    assert.ok(
      ep.auth.every((a) => a === 'Bearer t0k3n'),
      'the configured header on every request',
    );
  } finally {
    hook.close();
    await endAll(sub, pub);
    await tb.close();
    await ep.close();
  }
});

test('client.connack for accepted and refused CONNECTs, message.acked for QoS 1 PUBACK and QoS 2 PUBREC', T, async () => {
  const ep = await endpoint();
  const tb = await startBroker({
    nodeName: 'vireo@ack-test',
    hooks: { authenticate: (r) => (r.username === 'mallory' ? { ok: false, reasonCode: 0x86 } : { ok: true }) },
  });
  const hook = new Webhook(tb.broker, options(ep.url, { events: ['client.connack', 'message.acked'], topic: 'acks/#' }), pino({ level: 'silent' }));
  hook.start();
  let sub, pub;
  try {
    sub = await connect(tb.url, {
      clientId: 'acker',
      username: 'bob',
      protocolVersion: 5,
      keepalive: 42,
      clean: false,
      properties: { sessionExpiryInterval: 60, receiveMaximum: 7 },
    });
    await assert.rejects(connect(tb.url, { clientId: 'intruder', username: 'mallory', reconnectPeriod: 0 }, 2000));
    await sub.subscribeAsync('acks/#', { qos: 2 });
    await sub.subscribeAsync('other/#', { qos: 1 });
    pub = await connect(tb.url, { clientId: 'sender' });
    const got = collect(sub, 3);
    await pub.publishAsync('acks/one', 'q1', { qos: 1 });
    await pub.publishAsync('acks/two', 'q2', { qos: 2 });
    await pub.publishAsync('other/x', 'outside the filter', { qos: 1 });
    await got;
    await waitFor(() => actions(ep.bodies).filter((a) => a === 'message_acked').length === 2, 'two acked events');
    const all = ep.bodies as Body[];
    const ok = all.find((b) => b.action === 'client_connack' && b.clientid === 'acker')!;
    assert.deepEqual(
      [ok.node, ok.username, ok.reason_code, ok.conn_ack, ok.proto_ver, ok.keepalive, ok.clean_start, ok.expiry_interval, ok.ipaddress],
      ['vireo@ack-test', 'bob', 'success', 'success', 5, 42, false, 60, '127.0.0.1'],
    );
    assert.equal((ok.conn_props as Body).receiveMaximum, 7);
    const refused = all.find((b) => b.action === 'client_connack' && b.clientid === 'intruder')!;
    assert.equal(refused.reason_code, 'bad_username_or_password');
    assert.equal(refused.proto_ver, 4);
    const acked = all.filter((b) => b.action === 'message_acked');
    assert.deepEqual(
      acked.map((b) => [b.clientid, b.username, b.from_client_id, b.from_clientid, b.from_username, b.topic, b.qos, b.payload]),
      [
        ['acker', 'bob', 'sender', 'sender', null, 'acks/one', 1, 'q1'],
        ['acker', 'bob', 'sender', 'sender', null, 'acks/two', 2, 'q2'],
      ],
    );
    assert.ok(acked.every((b) => typeof b.id === 'number' && typeof b.ts === 'number'));
  } finally {
    hook.close();
    await endAll(sub, pub);
    await tb.close();
    await ep.close();
  }
});

test('batching: batch_size > 1 sends JSON arrays, in order', T, async () => {
  const ep = await endpoint();
  const tb = await startBroker();
  const hook = new Webhook(tb.broker, options(ep.url, { events: ['message.publish'], batchSize: 50 }), pino({ level: 'silent' }));
  hook.start();
  try {
    for (let i = 0; i < 120; i++) tb.broker.publishMessage({ topic: `b/${i}`, payload: String(i) });
    await waitFor(() => hook.stats.sent === 120, 'all events sent');
    assert.ok(ep.bodies.every((b) => Array.isArray(b)));
    assert.ok(ep.bodies.length < 120, `${ep.bodies.length} requests for 120 events`);
    assert.deepEqual(
      ep.bodies.flat().map((b) => (b as Body).payload),
      Array.from({ length: 120 }, (_, i) => String(i)),
    );
  } finally {
    hook.close();
    await tb.close();
    await ep.close();
  }
});

test('failures are retried with backoff, then counted', T, async () => {
  const flaky = await endpoint((n, res) => (n < 2 ? res.writeHead(500).end() : res.end('ok')));
  const tb = await startBroker();
  const hook = new Webhook(tb.broker, options(flaky.url, { events: ['message.publish'] }), pino({ level: 'silent' }));
  hook.start();
  const dead = await endpoint((_n, res) => res.writeHead(503).end());
  const hook2 = new Webhook(tb.broker, options(dead.url, { events: ['message.publish'], maxRetries: 2 }), pino({ level: 'silent' }));
  hook2.start();
  try {
    tb.broker.publishMessage({ topic: 'r/1', payload: 'x' });
    await waitFor(() => hook.stats.sent === 1 && hook2.stats.failed === 1, 'retries to settle');
    assert.equal(hook.stats.retried, 2);
    assert.equal(flaky.bodies.length, 3, 'the same event sent three times');
    assert.equal(dead.bodies.length, 3, 'one try and two retries');
  } finally {
    hook.close();
    hook2.close();
    await tb.close();
    await flaky.close();
    await dead.close();
  }
});

test('an endpoint that hangs never slows delivery: every QoS 1 message arrives, the queue stays bounded', T, async () => {
  const hang = await endpoint(() => {}); // never answers
  // the subscriber's queue holds the whole burst: what is measured is the webhook's effect alone
  const tb = await startBroker({ mqtt: { maxMqueueLen: 10_000 } });
  const hook = new Webhook(
    tb.broker,
    options(hang.url, { events: ['message.publish', 'message.delivered', 'message.acked'], maxQueue: 100, requestTimeout: 10_000 }),
    pino({ level: 'silent' }),
  );
  hook.start();
  let sub, pub;
  try {
    sub = await connect(tb.url, { clientId: 's' });
    await sub.subscribeAsync('load/#', { qos: 1 });
    pub = await connect(tb.url, { clientId: 'p' });
    const n = 3000;
    const got = collect(sub, n, 20_000);
    const started = Date.now();
    await Promise.all(Array.from({ length: n }, (_, i) => pub!.publishAsync(`load/${i % 10}`, String(i), { qos: 1 })));
    const msgs = await got;
    const took = Date.now() - started;
    assert.equal(msgs.length, n);
    assert.equal(tb.broker.stats.droppedBy.get('queue_full') ?? 0, 0);
    assert.ok(took < 15_000, `delivery took ${took} ms`);
    assert.ok(hook.stats.queued <= 100, `queue ${hook.stats.queued}`);
    // publish, delivered and acked for each message: all but the queue's 100 and the one in flight dropped
    await waitFor(() => hook.stats.dropped >= 3 * n - 100 - 1, `dropped ${hook.stats.dropped}`);
    assert.equal(hang.bodies.length, 1, 'one request, still waiting');
  } finally {
    hook.close();
    await endAll(sub, pub);
    await tb.close();
    await hang.close();
  }
});

test('vireo start: webhook from the environment; a bad event name stops start-up naming the key', T, async () => {
  const ep = await endpoint();
  const port = await freePort();
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_WEBHOOK__DEFAULT__URL: ep.url,
      VIREO_WEBHOOK__DEFAULT__EVENTS: '[client.connected]',
    },
  });
  let c;
  try {
    await vireo.waitForLog('started', 10_000);
    c = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'proc-dev' });
    await waitFor(() => ep.bodies.length > 0, 'the webhook call');
    assert.deepEqual(actions(ep.bodies), ['client_connected']);
  } finally {
    await endAll(c);
    vireo.kill('SIGTERM');
    await vireo.waitExit(8000);
    await ep.close();
  }
  const bad = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_WEBHOOK__DEFAULT__URL: 'http://127.0.0.1:9/x',
      VIREO_WEBHOOK__DEFAULT__EVENTS: '[client.connectd]',
    },
  });
  assert.equal((await bad.waitExit(10_000)).code, 2);
  assert.match(bad.stderr(), /webhook\.default\.events: expected events among .*got client\.connectd/);
});

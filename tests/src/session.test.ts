/**
 * Sessions: clean session / clean start, persistent sessions and offline queueing, max_mqueue_len,
 * session expiry (v5 and the 3.1.1 default), redelivery with DUP, retry_interval, the inflight window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket, IDisconnectPacket, IPubrelPacket, Packet } from 'mqtt-packet';
import type { Message, DropReason } from '@vireo/broker';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { startBroker, connect, endAll, quietFor, waitFor, withBroker } from './harness.js';
import { RawClient, rawConnect } from './raw-client.js';
import type { RawConnectOptions } from './raw-client.js';
import { captureLog } from './log-capture.js';

const isPublish = (p: Packet): p is IPublishPacket => p.cmd === 'publish';

/** Takes the next `n` PUBLISH packets a raw client receives. */
async function publishes(c: RawClient, n: number, ms = 3000): Promise<IPublishPacket[]> {
  const out: IPublishPacket[] = [];
  for (let i = 0; i < n; i++) out.push((await c.next('publish', ms)) as IPublishPacket);
  return out;
}

const payloads = (ps: IPublishPacket[]) => ps.map((p) => p.payload.toString());

/** A raw client subscribed to `filter` at `qos` (waits for SUBACK). */
async function subscriber(port: number, opts: RawConnectOptions, filter: string, qos: 0 | 1 | 2) {
  const r = await rawConnect(port, opts);
  r.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] });
  await r.client.next('suback');
  return r;
}

/** Sends DISCONNECT (optionally with a v5 session expiry) and waits for the close. */
async function disconnect(c: RawClient, sessionExpiryInterval?: number): Promise<void> {
  c.send(sessionExpiryInterval === undefined ? { cmd: 'disconnect' } : { cmd: 'disconnect', properties: { sessionExpiryInterval } });
  await c.waitClose();
}

test('clean session (3.1.1) and clean start (v5): nothing survives the connection', { timeout: 10_000 }, () =>
  withBroker({}, async (tb, clients) => {
    const pub = await connect(tb.url, { clientId: 'pub' });
    clients.push(pub);
    for (const protocolVersion of [4, 5] as const) {
      const id = `clean${protocolVersion}`;
      const s = await subscriber(tb.port, { protocolVersion, clientId: id, clean: true }, 'clean/t', 1);
      clients.push(s.client);
      await disconnect(s.client);
      assert.equal(tb.broker.session(id), undefined, 'session ended with the connection');
      await pub.publishAsync('clean/t', 'while away', { qos: 1 });
      // reconnect with a persistent session: it is new, with no subscription and nothing queued
      const again = await rawConnect(tb.port, { protocolVersion, clientId: id, clean: false, properties: protocolVersion === 5 ? { sessionExpiryInterval: 10 } : undefined });
      clients.push(again.client);
      assert.equal(again.connack.sessionPresent, false);
      await pub.publishAsync('clean/t', 'now', { qos: 1 });
      await quietFor(100, () => again.client.all.filter(isPublish).length === 0, 'no subscription survived');
      await disconnect(again.client);
    }
    // v5: clean start false but session expiry 0 (the default) also ends the session at disconnect
    const s = await subscriber(tb.port, { protocolVersion: 5, clientId: 'exp0', clean: false }, 'clean/t', 1);
    clients.push(s.client);
    await disconnect(s.client);
    assert.equal(tb.broker.session('exp0'), undefined);
  }),
);

test('persistent session keeps subscriptions and queues QoS 1/2 (and QoS 0 by default) while offline, in order', { timeout: 10_000 }, () =>
  withBroker({}, async (tb, clients) => {
    const pub = await connect(tb.url, { clientId: 'pub', protocolVersion: 5 });
    clients.push(pub);
    for (const protocolVersion of [4, 5] as const) {
      const id = `pers${protocolVersion}`;
      const opts: RawConnectOptions = { protocolVersion, clientId: id, clean: false, properties: protocolVersion === 5 ? { sessionExpiryInterval: 60 } : undefined };
      const s = await subscriber(tb.port, opts, `pers${protocolVersion}/#`, 2);
      clients.push(s.client);
      await disconnect(s.client);
      assert.ok(tb.broker.session(id) !== undefined, 'session kept after disconnect');
      for (let i = 0; i < 6; i++) await pub.publishAsync(`pers${protocolVersion}/t`, `m${i}`, { qos: (i % 3) as 0 | 1 | 2 });
      const again = await rawConnect(tb.port, opts);
      clients.push(again.client);
      assert.equal(again.connack.sessionPresent, true);
      const got = await publishes(again.client, 6);
      assert.deepEqual(payloads(got), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
      assert.deepEqual(
        got.map((p) => p.qos),
        [0, 1, 2, 0, 1, 2],
      );
      assert.ok(
        got.every((p) => !p.dup),
        'first delivery is not DUP',
      );
      // the subscription is still live for new messages
      await pub.publishAsync(`pers${protocolVersion}/t`, 'live', { qos: 1 });
      const [live] = await publishes(again.client, 1);
      assert.equal(live.payload.toString(), 'live');
    }
  }),
);

test('mqueue_store_qos0 false: QoS 0 is not queued for an offline session, QoS 1 is', { timeout: 10_000 }, () =>
  withBroker({ mqtt: { mqueueStoreQos0: false } }, async (tb, clients) => {
    const pub = await connect(tb.url, { clientId: 'pub' });
    clients.push(pub);
    const opts: RawConnectOptions = { protocolVersion: 4, clientId: 'noq0', clean: false };
    const s = await subscriber(tb.port, opts, 'q0/t', 1);
    clients.push(s.client);
    await disconnect(s.client);
    await pub.publishAsync('q0/t', 'zero', { qos: 0 });
    await pub.publishAsync('q0/t', 'one', { qos: 1 });
    const again = await rawConnect(tb.port, opts);
    clients.push(again.client);
    const [m] = await publishes(again.client, 1);
    assert.equal(m.payload.toString(), 'one');
    await quietFor(100, () => again.client.all.filter(isPublish).length === 1, 'only the QoS 1 message was queued');
    assert.deepEqual(payloads(again.client.all.filter(isPublish)), ['one']);
    assert.equal(tb.broker.stats.droppedBy.get('no_connection'), 1);
  }),
);

test('max_mqueue_len: a full queue drops the oldest, logs `Dropped msg due to mqueue is full` (throttled)', { timeout: 10_000 }, async () => {
  const log = captureLog('info');
  const tb = await startBroker({ logger: log.logger, mqtt: { maxMqueueLen: 3 }, logThrottleWindow: 300 });
  const clients: RawClient[] = [];
  const dropped: [string, DropReason][] = [];
  tb.broker.on('message.dropped', (m: Message, reason: DropReason) => dropped.push([m.payload.toString(), reason]));
  let pub;
  try {
    pub = await connect(tb.url, { clientId: 'pub' });
    const opts: RawConnectOptions = { protocolVersion: 4, clientId: 'slowpoke', clean: false };
    const s = await subscriber(tb.port, opts, 'mq/t', 1);
    clients.push(s.client);
    await disconnect(s.client);
    for (let i = 1; i <= 6; i++) await pub.publishAsync('mq/t', `m${i}`, { qos: 1 });
    const again = await rawConnect(tb.port, opts);
    clients.push(again.client);
    const got = await publishes(again.client, 3);
    assert.deepEqual(payloads(got), ['m4', 'm5', 'm6']);
    await quietFor(100, () => again.client.all.filter(isPublish).length === 3, 'the dropped messages stay dropped');
    assert.deepEqual(dropped, [
      ['m1', 'queue_full'],
      ['m2', 'queue_full'],
      ['m3', 'queue_full'],
    ]);
    assert.equal(tb.broker.stats.droppedBy.get('queue_full'), 3, 'the counter counts every drop');
    // the first drop is logged at once; those after it in the same window as one line with their count
    // (two lines on a quiet machine; a third if the window ended between the drops)
    const lines = () => log.find('Dropped msg due to mqueue is full');
    const logged = () => lines().reduce((n, l) => n + (typeof l.throttled === 'number' ? l.throttled : 1), 0);
    await waitFor(() => logged() === 3, 'every drop logged or counted in a line');
    const [first, ...rest] = lines();
    assert.equal(first.clientid, 'slowpoke');
    assert.equal(first.topic, 'mq/t');
    assert.equal(first.reason, 'queue_full');
    assert.equal(first.throttled, undefined);
    assert.ok(rest.length >= 1 && rest.length <= 2, `one line for the rest (two if the window ended between them): ${rest.length}`);
    for (const l of rest) assert.equal(l.clientid, 'slowpoke');
  } finally {
    clients.forEach((c) => c.destroy());
    await endAll(pub);
    await tb.close();
  }
});

test('v5 session expiry interval: the session outlives the connection for N s, then it is gone', { timeout: 10_000 }, async () => {
  const log = captureLog('info');
  const tb = await startBroker({ logger: log.logger });
  const clients: RawClient[] = [];
  let pub;
  try {
    pub = await connect(tb.url, { clientId: 'pub' });
    const opts: RawConnectOptions = { protocolVersion: 5, clientId: 'exp1', clean: false, properties: { sessionExpiryInterval: 1 } };
    const s = await subscriber(tb.port, opts, 'exp/t', 1);
    clients.push(s.client);
    await disconnect(s.client);
    // within the interval: present, with what was queued
    await pub.publishAsync('exp/t', 'kept', { qos: 1 });
    const soon = await rawConnect(tb.port, opts);
    clients.push(soon.client);
    assert.equal(soon.connack.sessionPresent, true);
    assert.deepEqual(payloads(await publishes(soon.client, 1)), ['kept']);
    soon.client.send({ cmd: 'puback', messageId: soon.client.all.filter(isPublish)[0].messageId });
    const left = Date.now();
    await disconnect(soon.client);
    await waitFor(() => tb.broker.session('exp1') === undefined, 'session expired', 3000);
    const after = Date.now() - left;
    assert.ok(after >= 900, `expired after ${after} ms`);
    assert.equal(log.find('Session expired').length, 1);
    // after it: a fresh session, the subscription is gone
    await pub.publishAsync('exp/t', 'lost', { qos: 1 });
    const late = await rawConnect(tb.port, opts);
    clients.push(late.client);
    assert.equal(late.connack.sessionPresent, false);
    await quietFor(100, () => late.client.all.filter(isPublish).length === 0, 'nothing for the late subscriber');
  } finally {
    clients.forEach((c) => c.destroy());
    await endAll(pub);
    await tb.close();
  }
});

test('v5 DISCONNECT with a new session expiry interval replaces the CONNECT value', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    try {
      // 600 s at CONNECT, 0 at DISCONNECT: the session ends now
      const a = await subscriber(tb.port, { protocolVersion: 5, clientId: 'd0', clean: false, properties: { sessionExpiryInterval: 600 } }, 'd/t', 1);
      clients.push(a.client);
      await disconnect(a.client, 0);
      await waitFor(() => tb.broker.session('d0') === undefined, 'session ended at DISCONNECT', 1000);
      const a2 = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'd0', clean: false, properties: { sessionExpiryInterval: 600 } });
      clients.push(a2.client);
      assert.equal(a2.connack.sessionPresent, false);

      // 600 s at CONNECT, 1 s at DISCONNECT: gone a second later
      const b = await subscriber(tb.port, { protocolVersion: 5, clientId: 'd1', clean: false, properties: { sessionExpiryInterval: 600 } }, 'd/t', 1);
      clients.push(b.client);
      await disconnect(b.client, 1);
      assert.ok(tb.broker.session('d1') !== undefined);
      await waitFor(() => tb.broker.session('d1') === undefined, 'session expired after 1 s', 3000);

      // 0 at CONNECT, non-zero at DISCONNECT: protocol error 0x82 [MQTT-3.14.2-2]; the session does not persist
      const c = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'd2', clean: true });
      clients.push(c.client);
      c.client.send({ cmd: 'disconnect', properties: { sessionExpiryInterval: 60 } });
      await c.client.waitClose();
      const dis = c.client.all.find((p) => p.cmd === 'disconnect') as IDisconnectPacket | undefined;
      assert.equal(dis?.reasonCode, 0x82);
      assert.equal(tb.broker.session('d2'), undefined);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('3.1.1 persistent sessions expire after the configured session_expiry_interval', { timeout: 10_000 }, async () => {
  const tb = await startBroker({ mqtt: { sessionExpiryInterval: 1000 } });
  const clients: RawClient[] = [];
  try {
    const opts: RawConnectOptions = { protocolVersion: 4, clientId: 'old', clean: false };
    const s = await subscriber(tb.port, opts, 'o/t', 1);
    clients.push(s.client);
    await disconnect(s.client);
    const again = await rawConnect(tb.port, opts);
    clients.push(again.client);
    assert.equal(again.connack.sessionPresent, true);
    const left = Date.now();
    again.client.destroy(); // no DISCONNECT: the same expiry applies
    await waitFor(() => tb.broker.session('old') === undefined, 'session expired', 3000);
    assert.ok(Date.now() - left >= 900);
    const late = await rawConnect(tb.port, opts);
    clients.push(late.client);
    assert.equal(late.connack.sessionPresent, false);
  } finally {
    clients.forEach((c) => c.destroy());
    await tb.close();
  }
  // the default is 2 h
  const tb2 = await startBroker();
  try {
    const { client } = await rawConnect(tb2.port, { protocolVersion: 4, clientId: 'dflt', clean: false });
    await disconnect(client);
    assert.equal(tb2.broker.session('dflt')?.expiryInterval, 7200);
    const at = tb2.broker.session('dflt')!.expiresAt;
    assert.ok(Math.abs(at - (Date.now() + 7200_000)) < 5000, 'expires in about 2 h');
  } finally {
    await tb2.close();
  }
});

test('unacknowledged QoS 1/2 are redelivered with DUP and the same packet id on reconnect; PUBREL is resent', { timeout: 10_000 }, () =>
  withBroker({}, async (tb, clients) => {
    const pub = await connect(tb.url, { clientId: 'pub' });
    clients.push(pub);
    for (const protocolVersion of [4, 5] as const) {
      const id = `redeliver${protocolVersion}`;
      const opts: RawConnectOptions = { protocolVersion, clientId: id, clean: false, properties: protocolVersion === 5 ? { sessionExpiryInterval: 60 } : undefined };
      const s = await subscriber(tb.port, opts, `r${protocolVersion}/#`, 2);
      clients.push(s.client);
      await pub.publishAsync(`r${protocolVersion}/a`, 'q1', { qos: 1 });
      await pub.publishAsync(`r${protocolVersion}/b`, 'q2', { qos: 2 });
      await pub.publishAsync(`r${protocolVersion}/c`, 'q2-recd', { qos: 2 });
      const first = await publishes(s.client, 3);
      assert.deepEqual(payloads(first), ['q1', 'q2', 'q2-recd']);
      // acknowledge only the first half of the third message's handshake
      s.client.send({ cmd: 'pubrec', messageId: first[2].messageId });
      const rel = (await s.client.next('pubrel')) as IPubrelPacket;
      assert.equal(rel.messageId, first[2].messageId);
      s.client.destroy(); // gone without acking anything else
      await waitFor(() => tb.broker.connection(id) === undefined, 'old connection gone');

      const again = await rawConnect(tb.port, opts);
      clients.push(again.client);
      assert.equal(again.connack.sessionPresent, true);
      const resent = await publishes(again.client, 2);
      assert.deepEqual(payloads(resent), ['q1', 'q2']);
      assert.ok(
        resent.every((p) => p.dup),
        'DUP set on redelivery',
      );
      assert.deepEqual(
        resent.map((p) => p.messageId),
        [first[0].messageId, first[1].messageId],
      );
      assert.deepEqual(
        resent.map((p) => p.qos),
        [1, 2],
      );
      const rel2 = (await again.client.next('pubrel')) as IPubrelPacket;
      assert.equal(rel2.messageId, first[2].messageId);
      // finishing the handshakes empties the inflight window
      again.client.send({ cmd: 'puback', messageId: resent[0].messageId });
      again.client.send({ cmd: 'pubrec', messageId: resent[1].messageId });
      await again.client.next('pubrel');
      again.client.send({ cmd: 'pubcomp', messageId: resent[1].messageId });
      again.client.send({ cmd: 'pubcomp', messageId: first[2].messageId });
      await waitFor(() => tb.broker.session(id)?.inflight.size === 0, 'inflight empty');
      await disconnect(again.client);
      // and nothing is delivered a third time
      const third = await rawConnect(tb.port, opts);
      clients.push(third.client);
      await quietFor(100, () => third.client.all.filter((p) => p.cmd === 'publish' || p.cmd === 'pubrel').length === 0, 'nothing resent to the third connection');
    }
  }),
);

test('MQTT.js (v5, manual acks) with a persistent session gets a QoS 1 message it did not acknowledge again, DUP, after reconnect', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    let pub: MqttClient | undefined, sub: MqttClient | undefined;
    try {
      // MQTT.js honours customHandleAcks at v5 only; the raw-client test above covers 3.1.1
      for (const protocolVersion of [5] as const) {
        pub = await connect(tb.url, { clientId: 'pub', protocolVersion });
        const opts: IClientOptions = { clientId: `js-sub${protocolVersion}`, protocolVersion, clean: false, reconnectPeriod: 0 };
        if (protocolVersion === 5) opts.properties = { sessionExpiryInterval: 60 };
        // manual acks that never acknowledge
        sub = await connect(tb.url, { ...opts, customHandleAcks: () => undefined });
        await sub.subscribeAsync('js/t', { qos: 1 });
        const first = new Promise<IPublishPacket>((resolve) => sub!.on('packetreceive', (p) => p.cmd === 'publish' && resolve(p)));
        await pub.publishAsync('js/t', 'again', { qos: 1 });
        assert.equal((await first).dup, false);
        await endAll(sub);
        // a default MQTT.js client: listen before CONNACK, the redelivery follows it at once
        sub = mqtt.connect(tb.url, opts);
        const again = await new Promise<IPublishPacket>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no redelivery')), 3000);
          sub!.once('message', (_t, _m, p) => {
            clearTimeout(timer);
            resolve(p);
          });
        });
        assert.equal(again.payload.toString(), 'again');
        assert.equal(again.dup, true);
        assert.equal(again.qos, 1);
        // MQTT.js acknowledged it this time
        await waitFor(() => tb.broker.session(`js-sub${protocolVersion}`)?.inflight.size === 0, 'acknowledged');
        await endAll(sub, pub);
        sub = pub = undefined;
      }
    } finally {
      await endAll(pub, sub);
    }
  }),
);

test('3.1.1 retry_interval: an unacknowledged message is resent with DUP while connected; v5 is not', { timeout: 10_000 }, () =>
  withBroker({ mqtt: { retryInterval: 500 } }, async (tb, clients) => {
    const pub = await connect(tb.url, { clientId: 'pub' });
    clients.push(pub);
    const v4 = await subscriber(tb.port, { protocolVersion: 4, clientId: 'retry4' }, 'retry/t', 1);
    const v5 = await subscriber(tb.port, { protocolVersion: 5, clientId: 'retry5' }, 'retry/t', 1);
    clients.push(v4.client, v5.client);
    await pub.publishAsync('retry/t', 'again', { qos: 1 });
    const [a] = await publishes(v4.client, 1);
    const [b] = await publishes(v5.client, 1);
    assert.equal(a.dup, false);
    assert.equal(b.dup, false);
    const t0 = Date.now();
    const [resent] = await publishes(v4.client, 1, 3000);
    assert.ok(Date.now() - t0 >= 400, 'not before retry_interval');
    assert.equal(resent.dup, true);
    assert.equal(resent.messageId, a.messageId);
    assert.equal(resent.payload.toString(), 'again');
    // once acknowledged, no more resends
    v4.client.send({ cmd: 'puback', messageId: a.messageId });
    await quietFor(1200, () => v4.client.all.filter(isPublish).length === 2, 'no resend once acknowledged');
    assert.equal(v5.client.all.filter(isPublish).length, 1, 'v5 retransmits only on reconnect');

    // QoS 2: a PUBREL without PUBCOMP is resent too
    v4.client.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'retry/q2', qos: 2 }] });
    await v4.client.next('suback');
    await pub.publishAsync('retry/q2', 'two', { qos: 2 });
    const [q2] = await publishes(v4.client, 1);
    v4.client.send({ cmd: 'pubrec', messageId: q2.messageId });
    const rel1 = (await v4.client.next('pubrel')) as IPubrelPacket;
    const rel2 = (await v4.client.next('pubrel', 3000)) as IPubrelPacket;
    assert.equal(rel1.messageId, q2.messageId);
    assert.equal(rel2.messageId, q2.messageId);
    assert.equal(v4.client.all.filter(isPublish).length, 3, 'after PUBREC the PUBLISH is not resent');
    v4.client.send({ cmd: 'pubcomp', messageId: q2.messageId });
    await waitFor(() => tb.broker.session('retry4')?.inflight.size === 0, 'inflight empty');
  }),
);

test('inflight window: only max_inflight unacknowledged messages in flight, the rest follow as acks arrive', { timeout: 10_000 }, () =>
  withBroker({ mqtt: { maxInflight: 2 } }, async (tb, clients) => {
    const pub = await connect(tb.url, { clientId: 'pub' });
    clients.push(pub);
    for (const protocolVersion of [4, 5] as const) {
      const s = await subscriber(tb.port, { protocolVersion, clientId: `win${protocolVersion}` }, `win${protocolVersion}`, 2);
      clients.push(s.client);
      for (let i = 1; i <= 5; i++) await pub.publishAsync(`win${protocolVersion}`, `m${i}`, { qos: (1 + (i % 2)) as 1 | 2 });
      const first = await publishes(s.client, 2);
      assert.deepEqual(payloads(first), ['m1', 'm2']);
      await quietFor(150, () => s.client.all.filter(isPublish).length === 2, 'third message held back');
      assert.equal(tb.broker.session(`win${protocolVersion}`)?.mqueue.length, 3);
      // m1 is QoS 2: PUBREC alone does not free the slot, PUBCOMP does
      s.client.send({ cmd: 'pubrec', messageId: first[0].messageId });
      await s.client.next('pubrel');
      await quietFor(100, () => s.client.all.filter(isPublish).length === 2, 'PUBREC alone does not free the slot');
      s.client.send({ cmd: 'pubcomp', messageId: first[0].messageId });
      const [third] = await publishes(s.client, 1);
      assert.equal(third.payload.toString(), 'm3');
      // m2 is QoS 1
      s.client.send({ cmd: 'puback', messageId: first[1].messageId });
      const [fourth] = await publishes(s.client, 1);
      assert.equal(fourth.payload.toString(), 'm4');
      s.client.send({ cmd: 'pubrec', messageId: third.messageId });
      await s.client.next('pubrel');
      s.client.send({ cmd: 'pubcomp', messageId: third.messageId });
      const [fifth] = await publishes(s.client, 1);
      assert.equal(fifth.payload.toString(), 'm5');
      const ids = new Set(s.client.all.filter(isPublish).map((p) => p.messageId));
      assert.equal(ids.has(fourth.messageId) && ids.has(fifth.messageId), true);
      assert.notEqual(fourth.messageId, fifth.messageId, 'in-flight messages have distinct packet ids');
    }
  }),
);

test('v5 Receive Maximum of the client narrows the window below max_inflight', { timeout: 10_000 }, () =>
  withBroker({ mqtt: { maxInflight: 10 } }, async (tb, clients) => {
    const pub = await connect(tb.url, { clientId: 'pub' });
    clients.push(pub);
    const s = await subscriber(tb.port, { protocolVersion: 5, clientId: 'rm', properties: { receiveMaximum: 1 } }, 'rm/t', 1);
    clients.push(s.client);
    for (let i = 1; i <= 3; i++) await pub.publishAsync('rm/t', `m${i}`, { qos: 1 });
    const [m1] = await publishes(s.client, 1);
    await quietFor(150, () => s.client.all.filter(isPublish).length === 1, 'Receive Maximum 1: one in flight');
    s.client.send({ cmd: 'puback', messageId: m1.messageId });
    const [m2] = await publishes(s.client, 1);
    assert.equal(m2.payload.toString(), 'm2');
  }),
);

/**
 * Will messages: when they are published (keepalive timeout, socket closed without DISCONNECT,
 * protocol error, v5 DISCONNECT 0x04, takeover/discard) and when not (normal DISCONNECT,
 * refused CONNECT, reconnect within the will delay); will delay, retain and QoS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { connect, collect, endAll, quietFor, waitFor, withBroker, type TestBroker } from './harness.js';
import { RawClient, rawConnect } from './raw-client.js';
import type { RawConnectOptions } from './raw-client.js';

type WillSpec = NonNullable<IConnectPacket['will']>;

function will(topic: string, payload: string, extra: Partial<WillSpec> = {}): WillSpec {
  return { topic, payload: Buffer.from(payload), qos: 0, retain: false, ...extra };
}

/** Every message `client` receives, as it arrives. */
function record(client: MqttClient) {
  const got: { topic: string; payload: string; qos: number; retain: boolean; at: number; props: unknown }[] = [];
  client.on('message', (topic, payload, packet) =>
    got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain, at: Date.now(), props: packet.properties }),
  );
  return got;
}

/** Waits until `got` holds at least `n` messages; returns them. */
async function atLeast<T>(got: T[], n: number, ms = 3000): Promise<T[]> {
  await waitFor(() => got.length >= n, `${n} messages (have ${got.length})`, ms);
  return got;
}

async function watcher(url: string, filter = 'will/#') {
  const w = await connect(url, { clientId: `watcher-${Math.random().toString(16).slice(2)}`, protocolVersion: 5 });
  await w.subscribeAsync(filter, { qos: 2 });
  return { w, got: record(w) };
}

/** A broker, a v5 client watching `will/#`, and the raw clients the test opens: all closed after. */
function withWills(body: (tb: TestBroker, wt: Awaited<ReturnType<typeof watcher>>, clients: RawClient[]) => Promise<void>): Promise<void> {
  return withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    const wt = await watcher(tb.url);
    try {
      await body(tb, wt, clients);
    } finally {
      clients.forEach((c) => c.destroy());
      await endAll(wt.w);
    }
  });
}

test('will is published when the socket closes without DISCONNECT, on protocol error and malformed packet', { timeout: 10_000 }, () =>
  withWills(async (tb, wt, clients) => {
    for (const protocolVersion of [4, 5] as const) {
      const base = (id: string): RawConnectOptions => ({ protocolVersion, clientId: `${id}${protocolVersion}`, will: will(`will/${id}${protocolVersion}`, `${id} died`) });
      // closed abruptly (RST)
      const a = await rawConnect(tb.port, base('reset'));
      clients.push(a.client);
      a.client.destroy();
      // closed with FIN but no DISCONNECT
      const b = await rawConnect(tb.port, base('fin'));
      clients.push(b.client);
      b.client.end();
      // a second CONNECT (protocol error)
      const c = await rawConnect(tb.port, base('twice'));
      clients.push(c.client);
      c.client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId: 'again', clean: true, keepalive: 0 });
      // a malformed packet: PUBLISH with both QoS bits set
      const d = await rawConnect(tb.port, base('garbage'));
      clients.push(d.client);
      d.client.send(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]));
    }
    const got = await atLeast(wt.got, 8, 4000);
    assert.deepEqual(got.map((m) => m.topic).sort(), ['will/fin4', 'will/fin5', 'will/garbage4', 'will/garbage5', 'will/reset4', 'will/reset5', 'will/twice4', 'will/twice5']);
    assert.ok(got.every((m) => m.payload.endsWith(' died')));
  }),
);

test('will is published on keepalive timeout', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    let w, c: RawClient | undefined;
    try {
      const wt = await watcher(tb.url);
      w = wt.w;
      const t0 = Date.now();
      ({ client: c } = await rawConnect(tb.port, { protocolVersion: 4, clientId: 'sleepy', keepalive: 1, will: will('will/sleepy', 'timeout') }));
      const [m] = await atLeast(wt.got, 1, 4000);
      assert.equal(m.topic, 'will/sleepy');
      const after = m.at - t0;
      assert.ok(after >= 1000 && after < 2500, `published after ${after} ms`);
    } finally {
      c?.destroy();
      await endAll(w);
    }
  }),
);

test('no will on a normal DISCONNECT (3.1.1 and v5 0x00); v5 DISCONNECT 0x04 publishes it', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    let w;
    try {
      const wt = await watcher(tb.url);
      w = wt.w;
      for (const protocolVersion of [4, 5] as const) {
        const c = await connect(tb.url, {
          protocolVersion,
          clientId: `polite${protocolVersion}`,
          will: { topic: `will/polite${protocolVersion}`, payload: Buffer.from('x'), qos: 1, retain: false },
        });
        await c.endAsync(); // a graceful end: MQTT.js sends DISCONNECT (0x00)
      }
      await waitFor(() => tb.broker.listenerStats()[0].shutdownCount.normal === 2, 'two normal disconnects');
      const withWill = await connect(tb.url, {
        protocolVersion: 5,
        clientId: 'leaving',
        will: { topic: 'will/leaving', payload: Buffer.from('bye, publish my will'), qos: 1, retain: false },
      });
      await new Promise<void>((resolve) => withWill.end(false, { reasonCode: 0x04 }, () => resolve()));
      const [m] = await atLeast(wt.got, 1);
      assert.equal(m.topic, 'will/leaving');
      assert.equal(m.payload, 'bye, publish my will');
      await quietFor(200, () => wt.got.length === 1, 'no will for the normal disconnects');
      assert.deepEqual(
        wt.got.map((g) => g.topic),
        ['will/leaving'],
        'no will for the normal disconnects',
      );
    } finally {
      await endAll(w);
    }
  }),
);

test('a refused CONNECT never publishes its will', { timeout: 10_000 }, () =>
  withBroker({ hooks: { authenticate: (r) => (r.username === 'ok' ? { ok: true } : { ok: false, reasonCode: 0x86 }) } }, async (tb) => {
    let w;
    const clients: RawClient[] = [];
    try {
      w = await connect(tb.url, { clientId: 'w', username: 'ok' });
      await w.subscribeAsync('will/#');
      const got = record(w);
      const r = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'intruder', username: 'no', will: will('will/intruder', 'x') });
      clients.push(r.client);
      assert.equal(r.connack.reasonCode, 0x86);
      await r.client.waitClose();
      await quietFor(150, () => got.length === 0, 'no will for a refused CONNECT');
    } finally {
      clients.forEach((c) => c.destroy());
      await endAll(w);
    }
  }),
);

test('will retain and will QoS are honoured', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    let w, late;
    const clients: RawClient[] = [];
    try {
      const wt = await watcher(tb.url, 'will/qos/#');
      w = wt.w;
      for (const qos of [0, 1, 2] as const) {
        const r = await rawConnect(tb.port, { protocolVersion: 5, clientId: `q${qos}`, will: will(`will/qos/${qos}`, `q${qos}`, { qos }) });
        clients.push(r.client);
        r.client.destroy();
      }
      const got = await atLeast(wt.got, 3);
      assert.deepEqual(got.map((m) => [m.topic, m.qos]).sort(), [
        ['will/qos/0', 0],
        ['will/qos/1', 1],
        ['will/qos/2', 2],
      ]);
      // retained will: stored, and a subscriber that comes later gets it with the retain flag
      const r = await rawConnect(tb.port, { protocolVersion: 4, clientId: 'ret', will: will('will/status/ret', 'offline', { retain: true, qos: 1 }) });
      clients.push(r.client);
      r.client.destroy();
      await waitFor(() => tb.broker.retainer.match('will/status/ret', Date.now()).length === 1, 'will retained');
      late = await connect(tb.url, { clientId: 'late', protocolVersion: 5 });
      const m = collect(late, 1);
      await late.subscribeAsync('will/status/+', { qos: 1 });
      const [kept] = await m;
      assert.equal(kept.topic, 'will/status/ret');
      assert.equal(kept.payload, 'offline');
      assert.equal(kept.packet.retain, true);
      assert.equal(kept.packet.qos, 1);
      // a will without retain is not stored
      assert.equal(tb.broker.retainer.match('will/qos/#', Date.now()).length, 0);
    } finally {
      clients.forEach((c) => c.destroy());
      await endAll(w, late);
    }
  }),
);

test('v5 will properties travel with the will', { timeout: 10_000 }, () =>
  withWills(async (tb, wt, clients) => {
    const r = await rawConnect(tb.port, {
      protocolVersion: 5,
      clientId: 'propped',
      will: will('will/props', '{"state":"offline"}', {
        qos: 1,
        properties: { contentType: 'application/json', userProperties: { site: 'north' }, responseTopic: 'reply/here', payloadFormatIndicator: true },
      }),
    });
    clients.push(r.client);
    r.client.destroy();
    const [m] = await atLeast(wt.got, 1);
    const props = m.props as { contentType?: string; userProperties?: object; responseTopic?: string; payloadFormatIndicator?: boolean };
    assert.equal(props.contentType, 'application/json');
    assert.deepEqual({ ...props.userProperties }, { site: 'north' });
    assert.equal(props.responseTopic, 'reply/here');
    assert.equal(props.payloadFormatIndicator, true);
  }),
);

test('will delay interval: published after the delay, not before', { timeout: 10_000 }, () =>
  withWills(async (tb, wt, clients) => {
    const r = await rawConnect(tb.port, {
      protocolVersion: 5,
      clientId: 'delayed',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: will('will/delayed', 'late news', { properties: { willDelayInterval: 1 } }),
    });
    clients.push(r.client);
    const gone = Date.now();
    r.client.destroy();
    await quietFor(600, () => wt.got.length === 0, 'not before the delay');
    const [m] = await atLeast(wt.got, 1, 2000);
    assert.equal(m.topic, 'will/delayed');
    const after = m.at - gone;
    assert.ok(after >= 900 && after < 2000, `published after ${after} ms`);
  }),
);

test('will delay interval: a reconnect to the session within the delay cancels the will', { timeout: 10_000 }, () =>
  withWills(async (tb, wt, clients) => {
    const opts: RawConnectOptions = {
      protocolVersion: 5,
      clientId: 'flaky',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: will('will/flaky', 'x', { properties: { willDelayInterval: 1 } }),
    };
    const a = await rawConnect(tb.port, opts);
    clients.push(a.client);
    a.client.destroy();
    // the broker has seen it go (its will delay runs) before the same client id comes back
    await waitFor(() => tb.broker.connection('flaky') === undefined, 'the broker to see flaky gone');
    const b = await rawConnect(tb.port, { ...opts, will: undefined });
    clients.push(b.client);
    assert.equal(b.connack.sessionPresent, true);
    await quietFor(1200, () => wt.got.length === 0, 'will cancelled by the reconnect');
  }),
);

test('will delay longer than the session expiry: the will goes out when the session ends', { timeout: 10_000 }, () =>
  withWills(async (tb, wt, clients) => {
    // session ends with the connection (expiry 0): the will is published at once despite a 30 s delay
    const a = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'short0', will: will('will/short0', 'x', { properties: { willDelayInterval: 30 } }) });
    clients.push(a.client);
    a.client.destroy();
    const [m0] = await atLeast(wt.got, 1, 1500);
    assert.equal(m0.topic, 'will/short0');
    // session expiry 1 s, will delay 30 s: published when the session expires, about 1 s later
    const b = await rawConnect(tb.port, {
      protocolVersion: 5,
      clientId: 'short1',
      clean: false,
      properties: { sessionExpiryInterval: 1 },
      will: will('will/short1', 'x', { properties: { willDelayInterval: 30 } }),
    });
    clients.push(b.client);
    const gone = Date.now();
    b.client.destroy();
    const m1 = (await atLeast(wt.got, 2, 3000))[1]!;
    assert.equal(m1.topic, 'will/short1');
    assert.ok(Date.now() - gone >= 900);
  }),
);

test('takeover and discard: the old connection’s will follows MQTT 5 §3.1.4 (and EMQX)', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    let w;
    const clients: RawClient[] = [];
    const persistent = (id: string, delay: number): RawConnectOptions => ({
      protocolVersion: 5,
      clientId: id,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: will(`will/${id}`, id, { properties: delay ? { willDelayInterval: delay } : undefined }),
    });
    try {
      const wt = await watcher(tb.url);
      w = wt.w;
      // takeover, will delay 0: sent at the close of the old connection
      const a = await rawConnect(tb.port, persistent('t0', 0));
      clients.push(a.client);
      const a2 = await rawConnect(tb.port, { ...persistent('t0', 0), will: undefined });
      clients.push(a2.client);
      // takeover, will delay > 0: the session continues, no will
      const b = await rawConnect(tb.port, persistent('t5', 5));
      clients.push(b.client);
      const b2 = await rawConnect(tb.port, { ...persistent('t5', 5), will: undefined });
      clients.push(b2.client);
      // discard (clean start 1), will delay > 0: the session ends, so the will is sent
      const c = await rawConnect(tb.port, persistent('d5', 5));
      clients.push(c.client);
      const c2 = await rawConnect(tb.port, { ...persistent('d5', 5), clean: true, will: undefined });
      clients.push(c2.client);
      // an offline session with a delayed will pending, resumed with clean start 1: the session ends, will sent now
      const d = await rawConnect(tb.port, persistent('p5', 5));
      clients.push(d.client);
      d.client.destroy();
      await waitFor(() => tb.broker.connection('p5') === undefined, 'the broker to see p5 gone');
      const d2 = await rawConnect(tb.port, { ...persistent('p5', 5), clean: true, will: undefined });
      clients.push(d2.client);
      await waitFor(() => wt.got.length >= 3, 'three wills');
      assert.deepEqual(wt.got.map((g) => g.topic).sort(), ['will/d5', 'will/p5', 'will/t0']);
    } finally {
      clients.forEach((c) => c.destroy());
      await endAll(w);
    }
  }),
);

test('kick: the session ends, so the will is published at once, even with a will delay', { timeout: 10_000 }, () =>
  withWills(async (tb, wt, clients) => {
    // connected, will delay 30 s, persistent session
    const a = await rawConnect(tb.port, {
      protocolVersion: 5,
      clientId: 'kicked-live',
      clean: false,
      properties: { sessionExpiryInterval: 600 },
      will: will('will/kicked-live', 'x', { properties: { willDelayInterval: 30 } }),
    });
    clients.push(a.client);
    // offline with its delayed will pending
    const b = await rawConnect(tb.port, {
      protocolVersion: 5,
      clientId: 'kicked-away',
      clean: false,
      properties: { sessionExpiryInterval: 600 },
      will: will('will/kicked-away', 'x', { properties: { willDelayInterval: 30 } }),
    });
    clients.push(b.client);
    b.client.destroy();
    await quietFor(100, () => wt.got.length === 0, 'delayed will still pending');
    assert.ok(tb.broker.kick('kicked-live'));
    assert.ok(tb.broker.kick('kicked-away'));
    await a.client.waitClose();
    assert.equal(a.client.all.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x98);
    await atLeast(wt.got, 2, 1000);
    assert.deepEqual(wt.got.map((g) => g.topic).sort(), ['will/kicked-away', 'will/kicked-live']);
    assert.equal(tb.broker.session('kicked-live'), undefined);
    assert.equal(tb.broker.session('kicked-away'), undefined);
  }),
);

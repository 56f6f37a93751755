/**
 * `$SYS/brokers/{node}/…`: per-client connected/disconnected events (also through a shared
 * subscription), the broker heartbeat topics, and `$`-topics not matched by leading wildcards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { VERSION } from '@vireo/broker';
import { startBroker, connect, endAll, quietFor, waitFor, withBroker } from './harness.js';
import { rawConnect } from './raw-client.js';

const NODE = 'vireo@sys-test';

interface Got {
  topic: string;
  payload: string;
  retain: boolean;
}

function record(client: MqttClient): Got[] {
  const got: Got[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return got;
}

const json = (g: Got | undefined) => JSON.parse(g?.payload ?? 'null') as Record<string, unknown>;

test('$SYS client events: connected and disconnected JSON payloads', { timeout: 10_000 }, () =>
  withBroker({ nodeName: NODE, sys: { sysMsgInterval: 0 } }, async (tb) => {
    let mon, dev4, dev5;
    try {
      mon = await connect(tb.url, { clientId: 'monitor', protocolVersion: 5 });
      await mon.subscribeAsync(`$SYS/brokers/+/clients/#`, { qos: 0 });
      const got = record(mon);
      const before = Date.now();
      dev4 = await connect(tb.url, { clientId: 'dev4', protocolVersion: 4, username: 'alice', password: 'pw', keepalive: 42 });
      dev5 = await connect(tb.url, { clientId: 'dev5', protocolVersion: 5, keepalive: 7 });
      await waitFor(() => got.length >= 2, 'two connected events');
      const c4 = json(got.find((g) => g.topic === `$SYS/brokers/${NODE}/clients/dev4/connected`));
      assert.equal(c4.clientid, 'dev4');
      assert.equal(c4.username, 'alice');
      assert.equal(c4.ipaddress, '127.0.0.1');
      assert.equal(c4.proto_ver, 4);
      assert.equal(c4.keepalive, 42);
      assert.equal(typeof c4.connected_at, 'number');
      assert.ok((c4.connected_at as number) >= before - 5 && (c4.connected_at as number) <= Date.now());
      assert.equal('password' in c4, false, 'never the password');
      const c5 = json(got.find((g) => g.topic === `$SYS/brokers/${NODE}/clients/dev5/connected`));
      assert.equal(c5.proto_ver, 5);
      assert.equal(c5.keepalive, 7);
      assert.equal(c5.username, null);

      // a graceful DISCONNECT is `normal`; a dropped socket is `tcp_closed`
      await dev4.endAsync();
      await endAll(dev5);
      dev4 = dev5 = undefined;
      await waitFor(() => got.length >= 4, 'two disconnected events');
      const d4 = json(got.find((g) => g.topic === `$SYS/brokers/${NODE}/clients/dev4/disconnected`));
      assert.equal(d4.clientid, 'dev4');
      assert.equal(d4.username, 'alice');
      assert.equal(d4.ipaddress, '127.0.0.1');
      assert.equal(d4.proto_ver, 4);
      assert.equal(d4.reason, 'normal');
      assert.equal(d4.connected_at, c4.connected_at);
      assert.ok((d4.disconnected_at as number) >= (c4.connected_at as number));
      const d5 = json(got.find((g) => g.topic === `$SYS/brokers/${NODE}/clients/dev5/disconnected`));
      assert.equal(d5.reason, 'tcp_closed');
      assert.ok(
        got.every((g) => !g.retain),
        'client events are not retained',
      );
    } finally {
      await endAll(mon, dev4, dev5);
    }
  }),
);

test('$SYS client events name the reason: keepalive_timeout, takeovered, kicked', { timeout: 10_000 }, () =>
  withBroker({ nodeName: NODE, sys: { sysMsgInterval: 0 } }, async (tb) => {
    let mon;
    const raws = [];
    try {
      mon = await connect(tb.url, { clientId: 'monitor' });
      await mon.subscribeAsync(`$SYS/brokers/${NODE}/clients/+/disconnected`);
      const got = record(mon);
      const a = await rawConnect(tb.port, { clientId: 'sleepy', keepalive: 1 });
      const b = await rawConnect(tb.port, { clientId: 'twin', clean: false });
      const b2 = await rawConnect(tb.port, { clientId: 'twin', clean: false });
      const k = await rawConnect(tb.port, { clientId: 'victim' });
      raws.push(a.client, b.client, b2.client, k.client);
      assert.ok(tb.broker.kick('victim'));
      await waitFor(() => got.length >= 3, 'three disconnected events', 4000);
      const reasons = Object.fromEntries(got.map((g) => [json(g).clientid, json(g).reason]));
      assert.deepEqual(reasons, { twin: 'takeovered', victim: 'kicked', sleepy: 'keepalive_timeout' });
    } finally {
      raws.forEach((c) => c.destroy());
      await endAll(mon);
    }
  }),
);

test('$SYS client events through a shared subscription: each event to one member of the group', { timeout: 10_000 }, () =>
  withBroker({ nodeName: NODE, sys: { sysMsgInterval: 0 } }, async (tb) => {
    let m1, m2, other;
    const devs: MqttClient[] = [];
    try {
      m1 = await connect(tb.url, { clientId: 'm1', protocolVersion: 5 });
      m2 = await connect(tb.url, { clientId: 'm2', protocolVersion: 4 });
      other = await connect(tb.url, { clientId: 'other' });
      for (const m of [m1, m2]) await m.subscribeAsync('$share/g/$SYS/brokers/+/clients/#');
      await other.subscribeAsync('$share/h/$SYS/brokers/+/clients/+/connected');
      const g1 = record(m1);
      const g2 = record(m2);
      const h = record(other);
      for (let i = 0; i < 4; i++) devs.push(await connect(tb.url, { clientId: `d${i}` }));
      await waitFor(() => g1.length + g2.length >= 4 && h.length >= 4, 'four connected events');
      await quietFor(100, () => g1.length + g2.length <= 4 && h.length <= 4, 'no event twice');
      const all = [...g1, ...g2].map((g) => g.topic).sort();
      assert.deepEqual(
        all,
        [0, 1, 2, 3].map((i) => `$SYS/brokers/${NODE}/clients/d${i}/connected`),
      );
      assert.ok(g1.length > 0 && g2.length > 0, `round robin spreads events (${g1.length}/${g2.length})`);
      assert.equal(h.length, 4, 'another group gets its own copy');
      assert.ok(h.every((x) => json(x).clientid === x.topic.split('/')[4]));
    } finally {
      await endAll(m1, m2, other, ...devs);
    }
  }),
);

test('$SYS heartbeat: version, uptime, datetime, clients/connected and clients/disconnected', { timeout: 10_000 }, () =>
  withBroker({ nodeName: NODE, sys: { sysMsgInterval: 200 } }, async (tb) => {
    let mon, persistent, live;
    try {
      mon = await connect(tb.url, { clientId: 'monitor', protocolVersion: 5 });
      const got = record(mon);
      await mon.subscribeAsync(`$SYS/brokers/${NODE}/#`);
      // version is retained: a new subscriber gets it at once
      await waitFor(() => got.some((g) => g.topic.endsWith('/version')), 'version');
      const version = got.find((g) => g.topic === `$SYS/brokers/${NODE}/version`)!;
      assert.equal(version.payload, VERSION);
      assert.equal(version.retain, true);

      // one offline persistent session and two live clients (monitor + live)
      persistent = await connect(tb.url, { clientId: 'away', clean: false });
      await persistent.endAsync();
      persistent = undefined;
      live = await connect(tb.url, { clientId: 'live' });
      const from = got.length;
      const latest = (suffix: string) =>
        got
          .slice(from)
          .filter((g) => g.topic === `$SYS/brokers/${NODE}/${suffix}`)
          .at(-1);
      await waitFor(() => latest('clients/connected') !== undefined && latest('uptime') !== undefined && latest('datetime') !== undefined, 'a heartbeat', 2000);
      assert.equal(latest('clients/connected')!.payload, '2');
      assert.equal(latest('clients/disconnected')!.payload, '1');
      const dt = Date.parse(latest('datetime')!.payload);
      assert.ok(Math.abs(dt - Date.now()) < 2000, `datetime ${latest('datetime')!.payload}`);
      assert.match(latest('uptime')!.payload, /\d+ seconds/);
      // the heartbeat repeats at sys_msg_interval and follows the client count
      await endAll(live);
      live = undefined;
      const mark = got.length;
      await waitFor(() => got.slice(mark).some((g) => g.topic.endsWith('/clients/connected') && g.payload === '1'), 'clients/connected = 1', 2000);
    } finally {
      await endAll(mon, persistent, live);
    }
  }),
);

test('`#` and `+/…` do not match $SYS topics; `$SYS/#` does', { timeout: 10_000 }, () =>
  withBroker({ nodeName: NODE, sys: { sysMsgInterval: 100 } }, async (tb) => {
    let all, plus, sys, dev;
    try {
      all = await connect(tb.url, { clientId: 'all' });
      plus = await connect(tb.url, { clientId: 'plus', protocolVersion: 5 });
      sys = await connect(tb.url, { clientId: 'sys' });
      await all.subscribeAsync('#');
      await plus.subscribeAsync('+/brokers/#');
      await sys.subscribeAsync('$SYS/#');
      const gAll = record(all);
      const gPlus = record(plus);
      const gSys = record(sys);
      dev = await connect(tb.url, { clientId: 'dev' });
      await dev.publishAsync('plain/topic', 'x', { qos: 1 });
      await waitFor(() => gSys.some((g) => g.topic.endsWith('/clients/dev/connected')) && gSys.some((g) => g.topic.endsWith('/uptime')), '$SYS traffic');
      await waitFor(() => gAll.length >= 1, 'plain message');
      await quietFor(250, () => gAll.length <= 1, `'#' gets no $SYS topic`);
      assert.deepEqual(
        gAll.map((g) => g.topic),
        ['plain/topic'],
      );
      assert.deepEqual(gPlus, []);
    } finally {
      await endAll(all, plus, sys, dev);
    }
  }),
);

/** Connects and drops `dev` while a monitor watches `$SYS/#`; returns the event topics about `dev`. */
async function devEvents(clientConnected: boolean, clientDisconnected: boolean): Promise<string[]> {
  const tb = await startBroker({ nodeName: NODE, sys: { sysMsgInterval: 0, clientConnected, clientDisconnected } });
  let mon, dev;
  try {
    mon = await connect(tb.url, { clientId: 'monitor' });
    await mon.subscribeAsync('$SYS/#');
    const got = record(mon);
    dev = await connect(tb.url, { clientId: 'dev' });
    await endAll(dev);
    dev = undefined;
    // the broker has seen dev go when it no longer lists it; events, if any, are published by then
    await waitFor(() => !tb.broker.connectedClientIds().includes('dev'), 'dev gone');
    const about = () => got.filter((g) => g.topic.includes('/clients/dev/')).length;
    const seen = about();
    await quietFor(200, () => about() === seen, 'no late event about dev');
    return got.filter((g) => g.topic.includes('/clients/dev/')).map((g) => g.topic);
  } finally {
    await endAll(mon, dev);
    await tb.close();
  }
}

test('sys.clientConnected/clientDisconnected false: no per-client events', { timeout: 10_000 }, async () => {
  assert.deepEqual(await devEvents(false, false), []);
});

test('sys.clientConnected and clientDisconnected switch each event on its own', { timeout: 10_000 }, async () => {
  assert.deepEqual(await devEvents(true, false), [`$SYS/brokers/${NODE}/clients/dev/connected`]);
  assert.deepEqual(await devEvents(false, true), [`$SYS/brokers/${NODE}/clients/dev/disconnected`]);
});

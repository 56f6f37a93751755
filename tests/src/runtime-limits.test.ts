/**
 * The limits changed through the HTTP API while a real node runs (EMQX 5's
 * `PUT /api/v5/configs/{flapping_detect|force_shutdown|overload_protection}` and
 * `PUT /api/v5/listeners/{id}`): each change is seen by real MQTT clients at once — a lower
 * flapping threshold bans sooner, a `messages_rate` slows a publisher that was already
 * connected, a `max_conn_rate` makes connections wait (logged once per episode), overload
 * protection turned on refuses CONNECTs and turned off accepts them — GET returns what was
 * set, and a bad value is a 400 naming the key, with nothing changed. In a cluster the change
 * made through one node holds on the others, and on a node that joins later.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { startApiNode, waitMembers, type ApiClusterNode } from './cluster-nodes.js';
import { apiNodeEnv, metric } from './api-node.js';
import { rawConnect, RawClient } from './raw-client.js';
import { killAllVireo, spawnVireo, type VireoProcess } from './vireo-process.js';

const AUTH = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };

interface Api {
  get(p: string, auth?: boolean): Promise<{ status: number; body: Record<string, unknown> }>;
  put(p: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

function api(httpPort: number): Api {
  const call = async (method: string, p: string, body?: unknown, auth = true) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${p}`, {
      method,
      headers: { ...(auth ? AUTH : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };
  return { get: (p, auth = true) => call('GET', p, undefined, auth), put: (p, body) => call('PUT', p, body) };
}

async function withNode(extra: Record<string, string>, fn: (mqttPort: number, httpPort: number, vireo: VireoProcess, clients: MqttClient[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-runtime-limits-'));
  const { mqttPort, httpPort, env } = await apiNodeEnv(dir);
  const vireo = spawnVireo({ env: { ...env, VIREO_DURABLE_STORAGE__BACKEND: 'memory', ...extra } });
  const clients: MqttClient[] = [];
  try {
    await vireo.waitForLog('started', 30_000);
    await fn(mqttPort, httpPort, vireo, clients);
  } finally {
    await endAll(...clients);
    vireo.kill('SIGKILL');
    await vireo.waitExit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One CONNECT (and DISCONNECT when accepted): the CONNACK's reason code. */
async function attempt(mqttPort: number, clientId: string): Promise<number> {
  const { client, connack } = await rawConnect(mqttPort, { clientId, protocolVersion: 5 });
  if (connack.reasonCode === 0) client.send({ cmd: 'disconnect' });
  client.destroy();
  return connack.reasonCode ?? -1;
}

test('flapping_detect changed through the API: GET shows it, the next CONNECTs are counted against it, bad values are 400s naming the key', { timeout: 120_000 }, async () => {
  await withNode({}, async (mqttPort, httpPort) => {
    const a = api(httpPort);
    assert.equal((await a.get('/api/v5/configs/flapping_detect', false)).status, 401, 'no credentials, no answer');
    const before = await a.get('/api/v5/configs/flapping_detect');
    assert.equal(before.status, 200);
    assert.deepEqual(before.body, { enable: false, max_count: 15, window_time: '1m', ban_time: '5m' }, "EMQX's defaults, in its syntax");
    // off: 6 quick reconnects are all accepted
    for (let i = 0; i < 6; i++) assert.equal(await attempt(mqttPort, 'flapper'), 0);

    const put = await a.put('/api/v5/configs/flapping_detect', { enable: true, max_count: 3, window_time: '30s', ban_time: '1h' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body, { enable: true, max_count: 3, window_time: '30s', ban_time: '1h' });
    assert.deepEqual((await a.get('/api/v5/configs/flapping_detect')).body, put.body, 'GET returns what was set');

    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push(await attempt(mqttPort, 'flapper2'));
    assert.deepEqual(codes, [0, 0, 0, 0x8a], 'three CONNECTs accepted, the fourth banned: the new max_count holds at once');
    const bans = (await a.get('/api/v5/banned')).body.data as { who: string; by: string; at: string; until: string }[];
    const ban = bans.find((b) => b.who === 'flapper2');
    assert.equal(ban?.by, 'flapping detector');
    assert.equal(Date.parse(ban!.until) - Date.parse(ban!.at), 3_600_000, 'banned for the new ban_time');

    // bad values: 400 naming the key; nothing changes
    for (const [body, key] of [
      [{ max_count: 0 }, 'flapping_detect.max_count'],
      [{ window_time: 'soon' }, 'flapping_detect.window_time'],
      [{ enable: 'yes please' }, 'flapping_detect.enable'],
      [{ max_cnt: 3 }, 'flapping_detect.max_cnt'],
    ] as const) {
      const r = await a.put('/api/v5/configs/flapping_detect', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} refused`);
      assert.equal(r.body.code, 'BAD_REQUEST');
      assert.match(String(r.body.message), new RegExp(`^${key.replace('.', '\\.')}: `), `the message names ${key}: ${String(r.body.message)}`);
    }
    assert.deepEqual((await a.get('/api/v5/configs/flapping_detect')).body, put.body, 'a refused PUT changed nothing');

    // a partial PUT keeps the other keys; turned off, reconnects are accepted again
    const off = await a.put('/api/v5/configs/flapping_detect', { enable: false });
    assert.deepEqual(off.body, { enable: false, max_count: 3, window_time: '30s', ban_time: '1h' });
    for (let i = 0; i < 5; i++) assert.equal(await attempt(mqttPort, 'flapper3'), 0);
  });
});

test("a listener's messages_rate changed through the API slows a publisher already connected, and lifting it frees it", { timeout: 120_000 }, async (t) => {
  await withNode({}, async (mqttPort, httpPort, vireo, clients) => {
    const a = api(httpPort);
    const l = await a.get('/api/v5/listeners/tcp:default');
    assert.equal(l.status, 200);
    assert.equal(l.body.id, 'tcp:default');
    assert.equal(l.body.messages_rate, 'infinity');
    assert.equal(l.body.max_conn_burst, 0);
    assert.equal((await a.get('/api/v5/listeners/tcp:nope')).status, 404);

    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const sub = await connect(url, { clientId: 'sub', protocolVersion: 5 });
    const pub = await connect(url, { clientId: 'pub', protocolVersion: 5 });
    clients.push(sub, pub);
    await sub.subscribeAsync('rt/#', { qos: 1 });
    let got = 0;
    sub.on('message', () => got++);

    // the listener as GET gave it, with a new rate: the other fields may come back unchanged
    const put = await a.put('/api/v5/listeners/tcp:default', { ...l.body, messages_rate: '50/s', bytes_rate: '1MB/s' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.messages_rate, '50/s');
    assert.equal(put.body.bytes_rate, '1MB/s');
    assert.equal((await a.get('/api/v5/listeners/tcp:default')).body.messages_rate, '50/s');

    const N = 200;
    const started = Date.now();
    await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync('rt/a', String(i), { qos: 1 })));
    const ms = Date.now() - started;
    await waitFor(() => got >= N, `all ${N} delivered`, 20_000);
    t.diagnostic(`${N} QoS 1 at 50/s (50 from the full bucket): ${ms} ms`);
    // 150 past the bucket at 50/s: 3 s; unlimited it takes well under one
    assert.ok(ms >= 2000, `the connected publisher was slowed by the new rate: ${N} took ${ms} ms`);
    const paused = await metric(httpPort, 'vireo_client_rate_limited_total');
    assert.ok(paused >= 1, `counted: ${paused}`);
    const line = vireo.logs().find((x) => x.msg === 'Listener limiters changed');
    assert.equal(line?.messages_rate, '50/s', 'the change is logged');

    // lifted: the same client is not paused again
    assert.equal((await a.put('/api/v5/listeners/tcp:default', { messages_rate: 'infinity', bytes_rate: 'infinity' })).status, 200);
    const pausedBefore = await metric(httpPort, 'vireo_client_rate_limited_total');
    got = 0;
    await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync('rt/b', String(i), { qos: 1 })));
    await waitFor(() => got >= N, `all ${N} delivered after the rate was lifted`, 20_000);
    assert.equal(await metric(httpPort, 'vireo_client_rate_limited_total'), pausedBefore, 'no pause once the rate is infinity');

    // bad values: 400 naming the key
    for (const [body, key] of [
      [{ messages_rate: '1000' }, 'listeners.tcp.default.messages_rate'],
      [{ bytes_burst: 'lots' }, 'listeners.tcp.default.bytes_burst'],
      [{ bind: '127.0.0.1:1' }, 'listeners.tcp.default.bind'],
    ] as const) {
      const r = await a.put('/api/v5/listeners/tcp:default', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} refused`);
      assert.ok(String(r.body.message).startsWith(`${key}: `), `the message names ${key}: ${String(r.body.message)}`);
    }
  });
});

test('max_conn_rate set through the API makes new connections wait, logged once when it starts and once when it ends', { timeout: 120_000 }, async () => {
  await withNode({}, async (mqttPort, httpPort, vireo) => {
    const a = api(httpPort);
    assert.equal((await a.put('/api/v5/listeners/tcp:default', { max_conn_rate: '5/s' })).status, 200);
    const raws: RawClient[] = [];
    try {
      // 15 at once: 5 from the full bucket, then one every 200 ms
      const started = Date.now();
      const acks = await Promise.all(
        Array.from({ length: 15 }, async (_, i) => {
          const c = await RawClient.open(mqttPort);
          raws.push(c);
          return (await c.connect({ clientId: `storm-${i}`, protocolVersion: 5 }, 20_000)).reasonCode;
        }),
      );
      const ms = Date.now() - started;
      assert.deepEqual(acks, Array(15).fill(0), 'every connection accepted: delayed, not refused');
      assert.ok(ms >= 1200, `the last waited for the rate: ${ms} ms`);
      assert.ok((await metric(httpPort, 'vireo_listener_conn_rate_limited_total')) >= 5, 'the waits are counted');
      await vireo.waitForLog('Listener connection rate limit no longer reached', 10_000);
      const starts = vireo.logs().filter((x) => x.msg.startsWith('Listener connection rate limit reached'));
      assert.equal(starts.length, 1, 'one line when the listener starts delaying, not one per connection');
      assert.equal(starts[0].listener, 'tcp:default');
      assert.equal(starts[0].max_conn_rate, '5/s');
      const end = vireo.logs().find((x) => x.msg.startsWith('Listener connection rate limit no longer reached'));
      assert.ok(Number(end?.delayed) >= 5, `the end line counts the connections that waited: ${String(end?.delayed)}`);
    } finally {
      for (const c of raws) c.destroy();
    }
  });
});

test(
  'overload_protection and force_shutdown changed through the API: turned on it refuses CONNECTs, turned off it accepts them; recovery needs recover_checks calm checks',
  { timeout: 120_000 },
  async () => {
    await withNode({}, async (mqttPort, httpPort, vireo) => {
      const a = api(httpPort);
      const o = await a.get('/api/v5/configs/overload_protection');
      assert.equal(o.body.enable, false);
      assert.equal(o.body.event_loop_lag, '500ms');
      assert.equal(o.body.recover_checks, 3);
      const fs = await a.get('/api/v5/configs/force_shutdown');
      assert.deepEqual(fs.body, { enable: true, max_mailbox_size: 1000, max_heap_size: '32MB' });
      const fsPut = await a.put('/api/v5/configs/force_shutdown', { max_heap_size: '16MB' });
      assert.deepEqual(fsPut.body, { enable: true, max_mailbox_size: 1000, max_heap_size: '16MB' });
      assert.ok(String((await a.put('/api/v5/configs/force_shutdown', { max_heap_size: '-1' })).body.message).startsWith('force_shutdown.max_heap_size: '));

      assert.equal(await attempt(mqttPort, 'before'), 0);
      // any heap at all is over 0.01 % of the limit: overloaded at the first check
      const on = await a.put('/api/v5/configs/overload_protection', {
        enable: true,
        check_interval: '200ms',
        heap_usage: '0.01%',
        event_loop_utilization: 'disabled',
        event_loop_lag: 'disabled',
      });
      assert.equal(on.status, 200, JSON.stringify(on.body));
      await waitFor(async () => (await attempt(mqttPort, 'probe')) === 0x89, 'a CONNECT answered 0x89 Server busy', 20_000, 100);
      assert.equal(await metric(httpPort, 'vireo_overload'), 1);

      // the threshold lifted: the overload ends only after recover_checks (3) calm checks of 200 ms
      const lifted = Date.now();
      assert.equal((await a.put('/api/v5/configs/overload_protection', { heap_usage: 'disabled' })).status, 200);
      await waitFor(async () => (await metric(httpPort, 'vireo_overload')) === 0, 'the overload ends', 20_000, 50);
      const calm = Date.now() - lifted;
      assert.ok(calm >= 3 * 200 - 20, `not before three calm checks: ${calm} ms`);
      assert.equal(await attempt(mqttPort, 'after'), 0);

      // on again, then turned off: CONNECTs are accepted at once and the alarm is cleared
      assert.equal((await a.put('/api/v5/configs/overload_protection', { heap_usage: '0.01%' })).status, 200);
      await waitFor(async () => (await attempt(mqttPort, 'probe')) === 0x89, 'overloaded again', 20_000, 100);
      assert.equal((await a.put('/api/v5/configs/overload_protection', { enable: false })).status, 200);
      assert.equal(await attempt(mqttPort, 'off'), 0, 'turned off: accepted');
      assert.equal(await metric(httpPort, 'vireo_overload'), 0);
      const alarms = (await a.get('/api/v5/alarms?activated=true')).body.data as { name: string }[];
      assert.ok(!alarms.some((x) => x.name === 'overload'), 'the overload alarm is cleared');

      const bad = await a.put('/api/v5/configs/overload_protection', { heap_usage: '120%' });
      assert.equal(bad.status, 400);
      assert.ok(String(bad.body.message).startsWith('overload_protection.heap_usage: '), String(bad.body.message));
      assert.ok(vireo.logs().some((x) => x.msg === 'Configuration changed through the API'));

      // EMQX 5.1's zone-wide view of the same sections: nothing applied when one part is bad
      const zone = await a.get('/api/v5/configs/global_zone');
      assert.deepEqual(Object.keys(zone.body).sort(), ['flapping_detect', 'force_shutdown', 'overload_protection']);
      assert.deepEqual(zone.body.force_shutdown, fsPut.body);
      const half = await a.put('/api/v5/configs/global_zone', { force_shutdown: { max_mailbox_size: 500 }, flapping_detect: { max_count: 0 } });
      assert.equal(half.status, 400);
      assert.ok(String(half.body.message).startsWith('flapping_detect.max_count: '), String(half.body.message));
      assert.equal((await a.get('/api/v5/configs/force_shutdown')).body.max_mailbox_size, 1000, 'the good part was not applied either');
      const mqtt = await a.put('/api/v5/configs/global_zone', { mqtt: { max_inflight: 10 } });
      assert.equal(mqtt.status, 400);
      assert.ok(String(mqtt.body.message).startsWith('global_zone.mqtt: '), String(mqtt.body.message));
      const good = await a.put('/api/v5/configs/global_zone', { force_shutdown: { max_mailbox_size: 500 } });
      assert.equal(good.status, 200, JSON.stringify(good.body));
      assert.equal((good.body.force_shutdown as Record<string, unknown>).max_mailbox_size, 500);
      assert.equal((await a.get('/api/v5/configs/force_shutdown')).body.max_mailbox_size, 500);
    });
  },
);

test('in a cluster a change made through one node holds on every node, and a node that joins later gets it', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-runtime-limits-cluster-'));
  const keyFile = path.join(dir, 'keys');
  writeFileSync(keyFile, 'ops:s3cret\n');
  const nodes: ApiClusterNode[] = [];
  const names = ['rtl0@127.0.0.1', 'rtl1@127.0.0.1', 'rtl2@127.0.0.1'];
  try {
    const rpc = [await freePort(), await freePort(), await freePort()];
    for (let i = 0; i < 2; i++) nodes.push(await startApiNode('rtl', i, rpc, keyFile));
    await Promise.all(nodes.map((n) => waitMembers(n, names.slice(0, 2), 60_000)));
    const [a, b] = nodes.map((n) => api(n.http)) as [Api, Api];

    const put = await a.put('/api/v5/configs/flapping_detect', { enable: true, max_count: 2 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual((await b.get('/api/v5/configs/flapping_detect')).body, put.body, 'node B answers what was set through node A');
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push(await attempt(nodes[1]!.mqttPort, 'hopper'));
    assert.deepEqual(codes, [0, 0, 0x8a], "node B bans at node A's new max_count");
    assert.equal((await a.put('/api/v5/listeners/tcp:default', { messages_rate: '200/s' })).status, 200);
    assert.equal((await b.get('/api/v5/listeners/tcp:default')).body.messages_rate, '200/s');

    // a node that joins later takes the changes from its peers
    nodes.push(await startApiNode('rtl', 2, rpc, keyFile));
    await waitMembers(nodes[2]!, names, 60_000);
    const c = api(nodes[2]!.http);
    await waitFor(async () => (await c.get('/api/v5/configs/flapping_detect')).body.max_count === 2, 'the joining node has the flapping change', 30_000, 200);
    await waitFor(async () => (await c.get('/api/v5/listeners/tcp:default')).body.messages_rate === '200/s', 'the joining node has the listener change', 30_000, 200);
    assert.equal((await c.get('/api/v5/configs/flapping_detect')).body.enable, true);
  } finally {
    for (const n of nodes) n.proc.kill('SIGKILL');
    killAllVireo();
    rmSync(dir, { recursive: true, force: true });
  }
});

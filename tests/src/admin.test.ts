import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAdmin, ApiKeys, type AdminServer } from '@vireo/admin';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startBroker, connect, collect, endAll, waitFor, type TestBroker } from './harness.js';
import { spawnVireo } from './vireo-process.js';

const T = { timeout: 120_000 };
const AUTH = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;

async function withAdmin(fn: (tb: TestBroker, api: (path: string, init?: RequestInit) => Promise<Response>) => Promise<void>, prometheusAuth = false) {
  const tb = await startBroker({ nodeName: 'vireo@admin-test' });
  const keys = new ApiKeys();
  keys.add('ops', 's3cret');
  let admin: AdminServer | undefined;
  try {
    admin = await startAdmin(tb.broker, { host: '127.0.0.1', port: await freePort(), apiKeys: keys, prometheusAuth });
    const base = `http://127.0.0.1:${admin.address().port}`;
    const api = (path: string, init: RequestInit = {}) =>
      fetch(base + path, {
        ...init,
        headers: { authorization: AUTH, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...(init.headers ?? {}) },
      });
    await fn(tb, api);
  } finally {
    await admin?.close();
    await tb.close();
  }
}

test('API keys: missing or wrong credentials get 401 with no detail; probes need none', T, async () => {
  await withAdmin(async (_tb, api) => {
    const none = await api('/api/v5/clients', { headers: { authorization: '' } });
    assert.equal(none.status, 401);
    const wrong = await api('/api/v5/clients', { headers: { authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` } });
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { code: 'BAD_API_KEY_OR_SECRET', message: 'Check api_key/api_secret' });
    const status = await api('/status', { headers: { authorization: '' } });
    assert.equal(status.status, 200);
    assert.match(await status.text(), /Node vireo@admin-test is started\nvireo is running/);
  });
});

test('clients: list with paging and filters, one client, its subscriptions, kick with 0x98', T, async () => {
  await withAdmin(async (tb, api) => {
    const clients = await Promise.all(
      ['dev-1', 'dev-2', 'other'].map((clientId) => connect(tb.url, { clientId, protocolVersion: 5, username: clientId === 'other' ? 'bob' : 'alice' })),
    );
    try {
      await clients[0].subscribeAsync('a/+', { qos: 1 });
      const page1 = await (await api('/api/v5/clients?limit=2&page=1')).json();
      assert.equal(page1.data.length, 2);
      assert.deepEqual(page1.meta, { page: 1, limit: 2, count: 3, hasnext: true });
      const liked = await (await api('/api/v5/clients?like_clientid=dev')).json();
      assert.deepEqual(liked.data.map((c: { clientid: string }) => c.clientid).sort(), ['dev-1', 'dev-2']);
      const bob = await (await api('/api/v5/clients?username=bob')).json();
      assert.deepEqual(
        bob.data.map((c: { clientid: string }) => c.clientid),
        ['other'],
      );
      const one = await (await api('/api/v5/clients/dev-1')).json();
      assert.equal(one.connected, true);
      assert.equal(one.proto_ver, 5);
      assert.equal(one.subscriptions_cnt, 1);
      assert.equal(one.ip_address, '127.0.0.1');
      const subs = await (await api('/api/v5/clients/dev-1/subscriptions')).json();
      assert.deepEqual(
        subs.map((s: { topic: string; qos: number }) => [s.topic, s.qos]),
        [['a/+', 1]],
      );
      assert.equal((await api('/api/v5/clients/nobody')).status, 404);

      const disconnect = new Promise<number | undefined>((resolve) => clients[1].once('disconnect', (p) => resolve(p.reasonCode)));
      assert.equal((await api('/api/v5/clients/dev-2', { method: 'DELETE' })).status, 204);
      assert.equal(await disconnect, 0x98);
      await waitFor(() => tb.broker.session('dev-2') === undefined, 'the kicked session to end');
      assert.equal((await api('/api/v5/clients/dev-2', { method: 'DELETE' })).status, 404);
    } finally {
      await endAll(...clients);
    }
  });
});

test('subscribe/unsubscribe a client through the API; subscriptions and topics listings', T, async () => {
  await withAdmin(async (tb, api) => {
    const c = await connect(tb.url, { clientId: 'dev-1' });
    const p = await connect(tb.url, { clientId: 'pub' });
    try {
      const r = await api('/api/v5/clients/dev-1/subscribe', { method: 'POST', body: JSON.stringify({ topic: 'x/#', qos: 1 }) });
      assert.equal(r.status, 200);
      const got = collect(c, 1);
      await p.publishAsync('x/1', 'hi', { qos: 1 });
      assert.equal((await got)[0].payload, 'hi');
      const subs = await (await api('/api/v5/subscriptions?clientid=dev-1')).json();
      assert.deepEqual(
        subs.data.map((s: { topic: string }) => s.topic),
        ['x/#'],
      );
      const matching = await (await api('/api/v5/subscriptions?match_topic=x/9')).json();
      assert.equal(matching.meta.count, 1);
      const topics = await (await api('/api/v5/topics')).json();
      assert.deepEqual(topics.data, [{ topic: 'x/#', node: 'vireo@admin-test' }]);
      const bad = await api('/api/v5/clients/dev-1/subscribe', { method: 'POST', body: JSON.stringify({ topic: 'x/#/y' }) });
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).message, /topic/);
      assert.equal((await api('/api/v5/clients/dev-1/unsubscribe', { method: 'POST', body: JSON.stringify({ topic: 'x/#' }) })).status, 204);
      assert.equal(tb.broker.routeCounts().subscriptions, 0);
    } finally {
      await endAll(c, p);
    }
  });
});

test('publish and publish/bulk: 200 with an id when delivered, 202 reason 16 when nobody listens, 400 on a bad body', T, async () => {
  await withAdmin(async (tb, api) => {
    const c = await connect(tb.url, { clientId: 'sub', protocolVersion: 5 });
    try {
      await c.subscribeAsync('ops/#', { qos: 1 });
      const got = collect(c, 3);
      const one = await api('/api/v5/publish', {
        method: 'POST',
        body: JSON.stringify({ topic: 'ops/1', payload: 'aGVsbG8=', payload_encoding: 'base64', qos: 1, properties: { user_properties: { k: 'v' } } }),
      });
      assert.equal(one.status, 200);
      assert.match((await one.json()).id, /^[0-9a-f]{32}$/);
      const bulk = await (
        await api('/api/v5/publish/bulk', {
          method: 'POST',
          body: JSON.stringify([
            { topic: 'ops/2', payload: 'b' },
            { topic: 'ops/3', payload: 'c' },
            { topic: 'void', payload: 'd' },
          ]),
        })
      ).json();
      assert.equal(bulk.length, 3);
      assert.deepEqual(bulk[2], { reason_code: 16, message: 'no_matching_subscribers' });
      const msgs = await got;
      assert.deepEqual(
        msgs.map((m) => `${m.topic}=${m.payload}`),
        ['ops/1=hello', 'ops/2=b', 'ops/3=c'],
      );
      assert.deepEqual({ ...msgs[0].packet.properties?.userProperties }, { k: 'v' });
      const nobody = await api('/api/v5/publish', { method: 'POST', body: JSON.stringify({ topic: 'void', payload: 'x' }) });
      assert.equal(nobody.status, 202);
      const invalid = await api('/api/v5/publish', { method: 'POST', body: JSON.stringify({ topic: 'a', payload: 'x', qos: 3 }) });
      assert.equal(invalid.status, 400);
      assert.match((await invalid.json()).message, /qos/);
      const wild = await api('/api/v5/publish', { method: 'POST', body: JSON.stringify({ topic: 'a/#', payload: 'x' }) });
      assert.equal(wild.status, 400);
    } finally {
      await endAll(c);
    }
  });
});

test('nodes, stats, metrics, listeners reflect what clients did', T, async () => {
  await withAdmin(async (tb, api) => {
    const c = await connect(tb.url, { clientId: 'm1' });
    try {
      // the node's own $SYS facts (version, sysdescr, …) are retained too
      const retainedBefore = (await (await api('/api/v5/stats?aggregate=true')).json())['retained.count'];
      await c.subscribeAsync('s/1', { qos: 0 });
      await c.publishAsync('s/1', 'x', { qos: 0, retain: true });
      await waitFor(() => tb.broker.stats.msgOut >= 1, 'the message to come back');
      const [node] = await (await api('/api/v5/nodes')).json();
      assert.equal(node.node, 'vireo@admin-test');
      assert.equal(node.live_connections, 1);
      const stats = await (await api('/api/v5/stats?aggregate=true')).json();
      assert.equal(stats['live_connections.count'], 1);
      assert.equal(stats['subscriptions.count'], 1);
      assert.equal(stats['retained.count'], retainedBefore + 1);
      const [metrics] = await (await api('/api/v5/metrics')).json();
      assert.ok(metrics['messages.received'] >= 1);
      const listeners = await (await api('/api/v5/listeners')).json();
      assert.equal(listeners[0].id, 'tcp:default');
      assert.equal(listeners[0].current_connections, 1);
    } finally {
      await endAll(c);
    }
  });
});

test('Prometheus text: values match what the test did; no credentials needed by default', T, async () => {
  await withAdmin(async (tb, api) => {
    const a = await connect(tb.url, { clientId: 'p1' });
    const b = await connect(tb.url, { clientId: 'p2' });
    try {
      await a.subscribeAsync('pm/#', { qos: 1 });
      for (let i = 0; i < 5; i++) await b.publishAsync(`pm/${i}`, 'x', { qos: 1 });
      await b.publishAsync('nobody/here', 'x', { qos: 1 });
      await waitFor(() => tb.broker.stats.msgOut >= 5, 'deliveries');
      const res = await api('/api/v5/prometheus/stats', { headers: { authorization: '' } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();
      const value = (name: string) => {
        const line = text.split('\n').find((l) => l.startsWith(name + '{') || l.startsWith(name + ' '));
        assert.ok(line, `${name} in the scrape`);
        return Number(line.split(' ').pop());
      };
      assert.equal(value('vireo_live_connections_count'), 2);
      assert.equal(value('vireo_subscriptions_count'), 1);
      assert.equal(value('vireo_messages_received'), 6);
      assert.equal(value('vireo_messages_sent'), 5);
      assert.match(text, /vireo_messages_dropped\{reason="no_subscribers",node="vireo@admin-test"\} 1|vireo_messages_dropped\{node="vireo@admin-test",reason="no_subscribers"\} 1/);
      assert.match(text, /vireo_process_cpu_user_seconds_total/);
      assert.match(text, /vireo_nodejs_eventloop_lag_seconds/);
    } finally {
      await endAll(a, b);
    }
  });
});

test('prometheus auth on: the scrape needs an API key', T, async () => {
  await withAdmin(async (_tb, api) => {
    assert.equal((await api('/metrics', { headers: { authorization: '' } })).status, 401);
    assert.equal((await api('/metrics')).status, 200);
  }, true);
});

test('OpenAPI document generated from the route schemas', T, async () => {
  await withAdmin(async (_tb, api) => {
    const doc = await (await api('/api-docs', { headers: { authorization: '' } })).json();
    assert.equal(doc.openapi.startsWith('3.'), true);
    for (const path of ['/api/v5/clients', '/api/v5/clients/{clientid}', '/api/v5/publish', '/api/v5/subscriptions', '/api/v5/topics', '/api/v5/stats']) {
      assert.ok(doc.paths[path], `${path} documented`);
    }
    assert.equal(doc.paths['/api/v5/publish'].post.requestBody.content['application/json'].schema.required.includes('topic'), true);
  });
});

test('vireo start: HTTP API on dashboard.listeners.http.bind with keys from api_key.bootstrap_file; a bad file names the key', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-keys-'));
  const keyFile = path.join(dir, 'keys');
  writeFileSync(keyFile, '# bootstrap keys\nops:s3cret\n');
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${mqttPort}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${httpPort}`,
      VIREO_API_KEY__BOOTSTRAP_FILE: keyFile,
    },
  });
  let client;
  try {
    await vireo.waitForLog('started', 10_000);
    client = await connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'via-process' });
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/v5/clients/via-process`, { headers: { authorization: AUTH } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).connected, true);
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/api/v5/clients`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/status`)).status, 200);
  } finally {
    await endAll(client);
    vireo.kill('SIGTERM');
    assert.equal((await vireo.waitExit(8000)).code, 0);
  }
  const bad = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${httpPort}`,
      VIREO_API_KEY__BOOTSTRAP_FILE: path.join(dir, 'missing'),
    },
  });
  assert.equal((await bad.waitExit(10_000)).code, 2);
  assert.match(bad.stderr(), /api_key\.bootstrap_file: cannot read .*missing \(ENOENT\)/);
  rmSync(dir, { recursive: true, force: true });
});

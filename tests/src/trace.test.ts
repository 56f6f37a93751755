import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAdmin, ApiKeys, type AdminServer } from '@vireo/admin';
import { freePort, startBroker, connect, collect, endAll, waitFor, type TestBroker, quietFor } from './harness.js';

const T = { timeout: 20_000 };
const AUTH = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;

type Line = { event: string; clientid?: string; topic?: string; [k: string]: unknown };
const lines = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

async function setup(fn: (tb: TestBroker, api: (p: string, init?: RequestInit) => Promise<Response>, dir: string) => Promise<void>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-trace-'));
  // the node's trace directory (`<data_dir>/trace` in a real node): files are <name>.log there
  const tb = await startBroker({ nodeName: 'vireo@trace-test', traceDir: dir });
  const keys = new ApiKeys();
  keys.add('ops', 's3cret');
  let admin: AdminServer | undefined;
  try {
    admin = await startAdmin(tb.broker, { host: '127.0.0.1', port: await freePort(), apiKeys: keys, prometheusAuth: false });
    const base = `http://127.0.0.1:${admin.address().port}`;
    await fn(tb, (p, init = {}) => fetch(base + p, { ...init, headers: { authorization: AUTH, ...(init.body ? { 'content-type': 'application/json' } : {}) } }), dir);
  } finally {
    await admin?.close();
    await tb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('client trace: every event of one client id in the file, nothing of the others; stop keeps the file', T, async () => {
  await setup(async (tb, api, dir) => {
    const file = path.join(dir, 'dev1.log');
    const start = await api('/api/v5/trace', { method: 'POST', body: JSON.stringify({ name: 'dev1', type: 'clientid', clientid: 'dev-1' }) });
    assert.equal(start.status, 200, await start.clone().text());
    const dev = await connect(tb.url, { clientId: 'dev-1', protocolVersion: 5, username: 'alice' });
    const other = await connect(tb.url, { clientId: 'other' });
    try {
      await dev.subscribeAsync('cmd/dev-1', { qos: 1 });
      const got = collect(dev, 1);
      await other.publishAsync('cmd/dev-1', 'reboot', { qos: 1 });
      await got;
      await dev.publishAsync('status/dev-1', 'ok', { qos: 1 });
      await other.publishAsync('noise', 'x', { qos: 1 });
      await dev.endAsync();
      await waitFor(() => lines(file).some((l) => l.event === 'disconnect'), 'the disconnect event');
      const events = lines(file);
      assert.ok(
        events.every((l) => l.clientid === 'dev-1'),
        'only dev-1',
      );
      const names = events.map((l) => l.event);
      for (const e of ['connect', 'connack', 'subscribe', 'publish_out', 'puback_in', 'publish_in', 'puback_out', 'disconnect'])
        assert.ok(names.includes(e), `${e} in ${names.join(',')}`);
      const connect0 = events.find((l) => l.event === 'connect')!;
      assert.equal(connect0.username, 'alice');
      assert.equal(connect0.proto_ver, 5);
      const out = events.find((l) => l.event === 'publish_out')!;
      assert.deepEqual([out.topic, out.qos, out.payload, out.from], ['cmd/dev-1', 1, 'reboot', 'other']);
      assert.equal(events.find((l) => l.event === 'publish_in')!.topic, 'status/dev-1');
      assert.equal(events.find((l) => l.event === 'disconnect')!.reason, 'normal');

      const stopped = await api('/api/v5/trace/dev1/stop', { method: 'PUT' });
      assert.equal((await stopped.json()).status, 'stopped');
      const size = statSync(file).size;
      const again = await connect(tb.url, { clientId: 'dev-1' });
      await again.endAsync();
      await quietFor(100, () => statSync(file).size === size, 'nothing written after stop');
      const list = await (await api('/api/v5/trace')).json();
      assert.deepEqual(
        list.map((t: { name: string; status: string }) => [t.name, t.status]),
        [['dev1', 'stopped']],
      );
    } finally {
      await endAll(dev, other);
    }
  });
});

test('topic trace: publishes and deliveries on matching topics, from any client', T, async () => {
  await setup(async (tb, api, dir) => {
    const file = path.join(dir, 'alerts.log');
    assert.equal((await api('/api/v5/trace', { method: 'POST', body: JSON.stringify({ name: 'alerts', type: 'topic', topic: 'alerts/#' }) })).status, 200);
    const a = await connect(tb.url, { clientId: 'a' });
    const b = await connect(tb.url, { clientId: 'b' });
    try {
      await b.subscribeAsync('#', { qos: 0 });
      const got = collect(b, 2);
      await a.publishAsync('alerts/fire', 'hot', { qos: 0 });
      await a.publishAsync('weather/rain', 'wet', { qos: 0 });
      await got;
      await waitFor(() => lines(file).length >= 2, 'the topic events');
      const events = lines(file);
      assert.deepEqual(
        events.map((l) => [l.event, l.clientid, l.topic]),
        [
          ['publish_in', 'a', 'alerts/fire'],
          ['publish_out', 'b', 'alerts/fire'],
        ],
      );
    } finally {
      await endAll(a, b);
    }
  });
});

test('a trace stops at its size cap; bad requests are refused with the field named', T, async () => {
  await setup(async (tb, api, dir) => {
    const file = path.join(dir, 'cap.log');
    assert.equal((await api('/api/v5/trace', { method: 'POST', body: JSON.stringify({ name: 'cap', type: 'clientid', clientid: 'chatty', max_bytes: 1024 }) })).status, 200);
    const c = await connect(tb.url, { clientId: 'chatty' });
    try {
      for (let i = 0; i < 50; i++) await c.publishAsync('t', 'x'.repeat(100), { qos: 1 });
      const [t] = await (await api('/api/v5/trace')).json();
      assert.equal(t.status, 'stopped');
      assert.equal(t.stop_reason, 'max_bytes');
      assert.ok(statSync(file).size <= 1024);
      const dup = await api('/api/v5/trace', { method: 'POST', body: JSON.stringify({ name: 'x', type: 'topic' }) });
      assert.equal(dup.status, 400);
      assert.match((await dup.json()).message, /topic is required/);
      const relative = await api('/api/v5/trace', { method: 'POST', body: JSON.stringify({ name: 'y', type: 'topic', topic: 'a', file: 'rel.log' }) });
      assert.equal(relative.status, 400);
    } finally {
      await endAll(c);
    }
  });
});

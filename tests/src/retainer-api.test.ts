/**
 * Retained messages through the HTTP API and `vireo ctl retainer` on a real two-node
 * cluster: listed and read on either node, deleted on every node by one command, without
 * subscribers seeing an empty message.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, quietFor, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startApiNode, waitMembers, type ApiClusterNode } from './cluster-nodes.js';
import { ctl } from './ctl-run.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-retainer-api-'));
const keyFile = join(dir, 'keys');
writeFileSync(keyFile, 'ops:retainer-secret\n');
const AUTH = `Basic ${Buffer.from('ops:retainer-secret').toString('base64')}`;
const nodes: ApiClusterNode[] = [];
const clients: MqttClient[] = [];

after(async () => {
  await endAll(...clients);
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  rmSync(dir, { recursive: true, force: true });
});

async function api(node: { http: number }, method: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${node.http}${path}`, { method, headers: { authorization: AUTH } });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

interface Listed {
  data: { topic: string; qos: number; from_clientid: string | null }[];
  meta: { count: number };
}

test('retained messages: list and read on any node; ctl retainer cleans one, then all, on every node', { timeout: 120_000 }, async () => {
  const rpc = [await freePort(), await freePort()];
  for (let i = 0; i < 2; i++) {
    nodes.push(await startApiNode('ret', i, rpc, keyFile));
  }
  const [a, b] = nodes as [ApiClusterNode, ApiClusterNode];
  await Promise.all(
    nodes.map((n) =>
      waitMembers(
        n,
        nodes.map((x) => x.name),
        40_000,
      ),
    ),
  );

  const pub = await connect(a.url, { clientId: 'ret-pub' });
  clients.push(pub);
  await pub.publishAsync('r/1', 'one', { qos: 1, retain: true });
  await pub.publishAsync('r/2', 'two', { qos: 0, retain: true });
  const count = async (n: { http: number }) => ((await api(n, 'GET', '/api/v5/mqtt/retainer/messages')).body as Listed).meta.count;
  for (const n of nodes) await waitFor(async () => (await count(n)) >= 2, 'both retained messages listed on every node', 30_000).catch(() => undefined);

  const listed = (await api(b, 'GET', '/api/v5/mqtt/retainer/messages?topic=r/%2B')).body as Listed;
  assert.deepEqual(
    listed.data.map((m) => [m.topic, m.qos, m.from_clientid]),
    [
      ['r/1', 1, 'ret-pub'],
      ['r/2', 0, 'ret-pub'],
    ],
  );
  assert.equal(listed.meta.count, 2);
  const one = await api(b, 'GET', `/api/v5/mqtt/retainer/message/${encodeURIComponent('r/1')}`);
  assert.equal(one.status, 200);
  assert.equal(Buffer.from((one.body as { payload: string }).payload, 'base64').toString(), 'one');
  assert.equal((await api(a, 'GET', `/api/v5/mqtt/retainer/message/${encodeURIComponent('r/none')}`)).status, 404);

  // ctl against node B, as an operator's shell on B would run it
  const env = { VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${b.http}`, VIREO_API_KEY__BOOTSTRAP_FILE: keyFile };
  const info = await ctl(env, ['retainer', 'info']);
  assert.equal(info.code, 0, info.stderr);
  assert.equal(info.stdout, 'retained messages: 2\n');
  const topics = await ctl(env, ['retainer', 'topics']);
  assert.deepEqual(topics.stdout.trim().split('\n'), ['r/1', 'r/2']);

  // a live subscriber sees no empty message when an operator cleans
  const watcher = await connect(a.url, { clientId: 'ret-watch' });
  clients.push(watcher);
  let onSubscribe = 0;
  watcher.on('message', () => onSubscribe++);
  await watcher.subscribeAsync('r/#', { qos: 1 });
  await waitFor(() => onSubscribe >= 2, 'the two retained messages on subscribe');
  const seen: string[] = [];
  watcher.on('message', (t, p) => seen.push(`${t}=${p.toString()}`));

  const clean1 = await ctl(env, ['retainer', 'clean', 'r/1']);
  assert.equal(clean1.code, 0, clean1.stderr);
  assert.equal(await count(a), 1, 'gone on A too');
  assert.equal(await count(b), 1);
  const fresh = await connect(a.url, { clientId: 'ret-fresh' });
  clients.push(fresh);
  const got: string[] = [];
  fresh.on('message', (t, p) => got.push(`${t}=${p.toString()}`));
  await fresh.subscribeAsync('r/#', { qos: 1 });
  await waitFor(() => got.length > 0, 'the remaining retained message', 15_000);
  await quietFor(200, () => got.length === 1, 'only the remaining retained message');
  assert.deepEqual(got, ['r/2=two']);

  const missing = await ctl(env, ['retainer', 'clean', 'r/1']);
  assert.equal(missing.code, 1, 'cleaning a topic with no retained message fails');
  assert.match(missing.stderr, /no retained message on r\/1/);

  const all = await ctl(env, ['retainer', 'clean', '--json']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(JSON.parse(all.stdout), { deleted: 1 });
  assert.equal(await count(a), 0);
  assert.equal(await count(b), 0);
  await quietFor(300, () => seen.length === 0, `subscribers are not told about an operator's clean: ${seen.join(', ')}`);
});

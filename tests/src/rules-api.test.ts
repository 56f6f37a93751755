/**
 * The rules API on a real two-node cluster: a rule made through node A's API runs on node B
 * (each message evaluated once, where it was published), changed on B holds on A, deleted on
 * A is gone from B; SQL errors refused with their position; rule_test; counters in the API,
 * Prometheus and `vireo ctl rules`; actions and connectors with their status per node.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { collect, connect, endAll, freePort, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startApiNode, syncRoutes, waitMembers, type ApiClusterNode } from './cluster-nodes.js';
import { ctl } from './ctl-run.js';
import { metric } from './api-node.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-rules-api-'));
const keyFile = join(dir, 'keys');
writeFileSync(keyFile, 'ops:rules-secret\n');
const AUTH = `Basic ${Buffer.from('ops:rules-secret').toString('base64')}`;
const nodes: ApiClusterNode[] = [];
const clients: MqttClient[] = [];

after(async () => {
  await endAll(...clients);
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  rmSync(dir, { recursive: true, force: true });
});

/** What the tests read of the API's answers (loosely: each assertion checks the field it needs). */
interface Answer {
  id: string;
  code: string;
  message: string;
  enable: boolean;
  source: string;
  status: string;
  from: string[];
  metrics: Record<string, number>;
  node_metrics: { node: string; metrics: Record<string, number> }[];
  node_status: { node: string; status: string }[];
  meta: { count: number };
  c: string;
  x: number;
  [k: string]: unknown;
}

async function api(node: { http: number }, method: string, path: string, body?: unknown): Promise<{ status: number; body: Answer & Answer[] }> {
  const res = await fetch(`http://127.0.0.1:${node.http}${path}`, {
    method,
    headers: { authorization: AUTH, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Answer & Answer[] };
}

test('rules through the API on two real nodes: made on A, runs on B; changed, tested, counted, deleted', { timeout: 120_000 }, async () => {
  const rpc = [await freePort(), await freePort()];
  const closedPort = await freePort();
  for (let i = 0; i < 2; i++) {
    nodes.push(
      await startApiNode('rules', i, rpc, keyFile, {
        // an HTTP action whose server is not there: its status shows it
        VIREO_CONNECTORS__HTTP__NOWHERE__URL: `http://127.0.0.1:${closedPort}`,
        VIREO_ACTIONS__HTTP__HOOK__CONNECTOR: 'nowhere',
      }),
    );
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

  // a syntax error is refused with its position, and nothing is created
  const bad = await api(a, 'POST', '/api/v5/rules', { id: 'bad', sql: 'SELECT v FROM "in/#" WHER v > 1', actions: [] });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /sql: syntax error at line 1, column 22: unexpected "WHER"/);
  const badAction = await api(a, 'POST', '/api/v5/rules', { id: 'bad', sql: 'SELECT v FROM "in/#"', actions: ['pgsql:none'] });
  assert.equal(badAction.status, 400);
  assert.match(badAction.body.message, /actions\[0\]: no action pgsql:none/);

  const created = await api(a, 'POST', '/api/v5/rules', {
    id: 'fwd',
    sql: 'SELECT payload.v AS v, clientid FROM "in/#" WHERE payload.v >= 10',
    actions: [{ function: 'republish', args: { topic: 'out/${clientid}', payload: '${v}', qos: 1 } }],
    description: 'forward big values',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.id, 'fwd');
  assert.deepEqual(created.body.from, ['in/#']);
  assert.equal((await api(a, 'POST', '/api/v5/rules', { id: 'fwd', sql: 'SELECT * FROM "x"' })).body.code, 'ALREADY_EXISTS');

  // copied to B
  await waitFor(async () => (await api(b, 'GET', '/api/v5/rules/fwd')).status === 200, 'the rule copied to B', 30_000);
  const onB = await api(b, 'GET', '/api/v5/rules/fwd');
  assert.equal(onB.status, 200);
  assert.equal(onB.body.source, 'api');

  // a message published on B is evaluated on B, once: the subscriber on A gets one copy
  const sub = await connect(a.url, { clientId: 'rules-sub' });
  const dev = await connect(b.url, { clientId: 'dev-b' });
  clients.push(sub, dev);
  await sub.subscribeAsync('out/#', { qos: 1 });
  await syncRoutes(dev, [sub]); // the subscription's route reaches B
  const got = collect(sub, 1, 10_000);
  await dev.publishAsync('in/x', '{"v": 5}', { qos: 1 });
  await dev.publishAsync('in/x', '{"v": 42}', { qos: 1 });
  const [m] = await got;
  assert.equal(m!.topic, 'out/dev-b');
  assert.equal(m!.payload, '42');
  let metrics = {} as Answer;
  await waitFor(
    async () => {
      metrics = (await api(a, 'GET', '/api/v5/rules/fwd/metrics')).body;
      return metrics.metrics.matched === 2;
    },
    'the rule metrics to count both messages',
    30_000,
  ).catch(() => undefined);
  assert.equal(metrics.metrics.matched, 2);
  assert.equal(metrics.metrics.passed, 1);
  assert.equal(metrics.metrics['actions.success'], 1);
  const perNode = Object.fromEntries(metrics.node_metrics.map((n) => [n.node, n.metrics.matched]));
  assert.deepEqual(perNode, { [a.name]: 0, [b.name]: 2 }, 'evaluated on B only');
  assert.equal(await metric(b.http, 'vireo_rule_matched'), 2);
  assert.equal(await metric(a.http, 'vireo_rule_matched'), 0);

  // changed on B (disabled) holds on A
  const put = await api(b, 'PUT', '/api/v5/rules/fwd', { enable: false });
  assert.equal(put.status, 200);
  await waitFor(async () => (await api(a, 'GET', '/api/v5/rules/fwd')).body.enable === false, 'the rule disabled on A', 30_000);
  assert.equal((await api(a, 'GET', '/api/v5/rules/fwd')).body.enable, false);
  const badPut = await api(b, 'PUT', '/api/v5/rules/fwd', { sql: 'SELECT FROM "x"' });
  assert.equal(badPut.status, 400);
  assert.match(badPut.body.message, /line 1, column 8/);

  // rule_test: output, 412 when it does not match, 400 with the position on a syntax error
  const t = await api(a, 'POST', '/api/v5/rule_test', {
    sql: 'SELECT upper(clientid) AS c, payload.x AS x FROM "t/#"',
    context: { clientid: 'abc', topic: 't/1', payload: '{"x": 3}' },
  });
  assert.equal(t.status, 200);
  assert.deepEqual(t.body, { c: 'ABC', x: 3 });
  assert.equal((await api(a, 'POST', '/api/v5/rule_test', { sql: 'SELECT * FROM "other/#"', context: { topic: 't/1' } })).status, 412);
  const ev = await api(a, 'POST', '/api/v5/rule_test', {
    sql: 'SELECT clientid, reason FROM "$events/client_disconnected"',
    context: { event_type: 'client_disconnected', clientid: 'c1', reason: 'normal' },
  });
  assert.deepEqual(ev.body, { clientid: 'c1', reason: 'normal' });
  const tBad = await api(a, 'POST', '/api/v5/rule_test', { sql: 'SELECT a FROM "t" WHERE', context: {} });
  assert.equal(tBad.status, 400);
  assert.match(tBad.body.message, /line 1, column 24/);

  // actions and connectors: the HTTP action of each node, disconnected from its missing server
  let actions = [] as Answer[];
  await waitFor(
    async () => {
      actions = (await api(a, 'GET', '/api/v5/actions')).body;
      return actions[0]?.status === 'disconnected';
    },
    'the HTTP action disconnected',
    30_000,
  ).catch(() => undefined);
  assert.equal(actions.length, 1);
  assert.equal(actions[0].id, 'http:hook');
  assert.equal(actions[0].status, 'disconnected');
  assert.deepEqual(actions[0]!.node_status.map((s) => s.node).sort(), [a.name, b.name].sort());
  const connectors = (await api(b, 'GET', '/api/v5/connectors/http:nowhere')).body;
  assert.equal(connectors.id, 'http:nowhere');
  assert.equal((await api(b, 'GET', '/api/v5/connectors/http:other')).status, 404);

  // vireo ctl rules, against node A
  const env = { VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${a.http}`, VIREO_API_KEY__BOOTSTRAP_FILE: keyFile };
  const list = await ctl(env, ['rules', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^id\s+enable\s+source\s+from\s+actions\s+matched/m);
  assert.match(list.stdout, /^fwd\s+false\s+api\s+in\/#\s+republish\s+2\s+1\s+0\s+0$/m);
  const show = await ctl(env, ['rules', 'show', 'fwd', '--json']);
  assert.equal(show.code, 0, show.stderr);
  assert.equal(JSON.parse(show.stdout).sql, 'SELECT payload.v AS v, clientid FROM "in/#" WHERE payload.v >= 10');
  assert.notEqual((await ctl(env, ['rules', 'show', 'nope'])).code, 0);

  // deleted on A: gone from B
  assert.equal((await api(a, 'DELETE', '/api/v5/rules/fwd')).status, 204);
  await waitFor(async () => (await api(b, 'GET', '/api/v5/rules/fwd')).status === 404, 'the rule gone from B', 30_000);
  assert.equal((await api(b, 'GET', '/api/v5/rules/fwd')).status, 404);
  assert.equal((await api(a, 'GET', '/api/v5/rules')).body.meta.count, 0);
});

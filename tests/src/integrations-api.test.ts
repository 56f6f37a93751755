/**
 * Connectors and actions made through the API (EMQX 5's POST/PUT/DELETE /connectors and
 * /actions) on a real two-node cluster, with a real HTTP server as the sink: made on one
 * node, they run on the other (a rule made there sends through them), a change rebuilds
 * what uses them, what is in use cannot be deleted, those of the configuration are
 * read-only, bad ones are refused.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startNode, waitMembers, type ClusterNode, type NodeSpec } from './cluster-nodes.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-integrations-'));
const keyFile = join(dir, 'keys');
writeFileSync(keyFile, 'ops:integrations-secret\n');
const AUTH = `Basic ${Buffer.from('ops:integrations-secret').toString('base64')}`;
type ApiNode = ClusterNode & { http: number };
const nodes: ApiNode[] = [];
let server: http.Server | undefined;

after(async () => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.proc.waitExit().catch(() => undefined)));
  killAllVireo();
  server?.closeAllConnections();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function api(node: ApiNode, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${node.http}${path}`, {
    method,
    headers: { authorization: AUTH, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

const msg = (r: { json: unknown }) => (r.json as { message?: string }).message ?? '';

test('connectors and actions through the API: made on one node, used on the other, changed, guarded, deleted', { timeout: 120_000 }, async () => {
  const got: { path: string; body: string }[] = [];
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method === 'POST') got.push({ path: req.url ?? '', body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const rpc = [await freePort(), await freePort()];
  const specs: NodeSpec[] = [];
  for (let i = 0; i < 2; i++) {
    const httpPort = await freePort();
    const spec: NodeSpec = {
      name: `integ${i}@127.0.0.1`,
      rpcPort: rpc[i]!,
      mqttPort: await freePort(),
      seeds: rpc,
      extraEnv: {
        VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${httpPort}`,
        VIREO_API_KEY__BOOTSTRAP_FILE: keyFile,
        VIREO_NODE__DATA_DIR: mkdtempSync(join(dir, `data${i}-`)),
        // one connector and action of the configuration: read-only through the API
        VIREO_CONNECTORS__HTTP__CFGH__URL: 'http://127.0.0.1:9',
        VIREO_ACTIONS__HTTP__CFGA__CONNECTOR: 'cfgh',
      },
    };
    specs.push(spec);
    nodes.push({ ...startNode(spec), http: httpPort });
  }
  const [a, b] = nodes as [ApiNode, ApiNode];
  let pub: MqttClient | undefined;
  try {
    // the MQTT listeners open last (after the start-up warm-up)
    await Promise.all(nodes.map((n) => n.proc.waitForLog('started', 30_000)));
    await waitMembers(a, [a.name, b.name], 30_000);

    // refused: a bad URL, an unknown field, a missing connector, a name with a slash
    assert.equal((await api(a, 'POST', '/api/v5/connectors', { type: 'http', name: 'h1', url: 'ftp://x' })).status, 400);
    assert.equal((await api(a, 'POST', '/api/v5/connectors', { type: 'http', name: 'h1', url: sinkUrl, colour: 'red' })).status, 400);
    assert.equal((await api(a, 'POST', '/api/v5/connectors', { type: 'http', name: 'a/b', url: sinkUrl })).status, 400);
    const noConn = await api(a, 'POST', '/api/v5/actions', { type: 'http', name: 'notify', connector: 'nope', parameters: {} });
    assert.deepEqual([noConn.status, /no http connector nope/.test(msg(noConn))], [400, true]);

    // made on a
    const c = await api(a, 'POST', '/api/v5/connectors', { type: 'http', name: 'h1', url: sinkUrl, headers: ['x-from: vireo'] });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    assert.equal((await api(a, 'POST', '/api/v5/connectors', { type: 'http', name: 'h1', url: sinkUrl })).status, 400, 'already exists');
    const act = await api(a, 'POST', '/api/v5/actions', {
      type: 'http',
      name: 'notify',
      connector: 'h1',
      parameters: { path: '/hook', body: '${payload}' },
      resource_opts: { batch_time: '0ms' },
    });
    assert.equal(act.status, 201, JSON.stringify(act.json));
    // both nodes run them
    const onB = (await api(b, 'GET', '/api/v5/actions/http:notify')).json as { node_status: { node: string }[]; connector: string };
    assert.deepEqual(onB.node_status.map((s) => s.node).sort(), [a.name, b.name]);
    assert.equal(onB.connector, 'http:h1');

    // a rule made on a, a message published on b: b's copy of the action sends it
    const rule = await api(a, 'POST', '/api/v5/rules', { id: 'fwd', sql: 'SELECT payload FROM "t/#"', actions: ['http:notify'] });
    assert.equal(rule.status, 201, JSON.stringify(rule.json));
    pub = await connect(b.url, { clientId: 'integ-pub', protocolVersion: 5 });
    await pub.publishAsync('t/1', 'hello', { qos: 1 });
    await waitFor(() => got.some((g) => g.path === '/hook' && g.body === 'hello'), 'the request from b');

    // changed on b: the rule on a now sends to the new path (the action and the rule are rebuilt everywhere)
    const changed = await api(b, 'PUT', '/api/v5/actions/http:notify', { connector: 'h1', parameters: { path: '/hook2', body: '${payload}' }, resource_opts: { batch_time: 0 } });
    assert.equal(changed.status, 200, JSON.stringify(changed.json));
    const pubA = await connect(a.url, { clientId: 'integ-pub-a', protocolVersion: 5 });
    await pubA.publishAsync('t/2', 'again', { qos: 1 });
    await endAll(pubA);
    await waitFor(() => got.some((g) => g.path === '/hook2' && g.body === 'again'), 'the request to the new path from a');

    // in use: not deleted; of the configuration: read-only
    const inUse = await api(a, 'DELETE', '/api/v5/connectors/http:h1');
    assert.deepEqual([inUse.status, /used by http:notify/.test(msg(inUse))], [409, true]);
    const ruleUses = await api(a, 'DELETE', '/api/v5/actions/http:notify');
    assert.deepEqual([ruleUses.status, /used by rule fwd/.test(msg(ruleUses))], [409, true]);
    assert.equal((await api(a, 'PUT', '/api/v5/actions/http:cfga', { connector: 'cfgh', parameters: {} })).status, 409);
    assert.equal((await api(a, 'DELETE', '/api/v5/connectors/http:cfgh')).status, 409);
    assert.equal((await api(a, 'DELETE', '/api/v5/connectors/http:nothing')).status, 404);

    // deleted in order, on every node
    assert.equal((await api(a, 'DELETE', '/api/v5/rules/fwd')).status, 204);
    assert.equal((await api(b, 'DELETE', '/api/v5/actions/http:notify')).status, 204);
    assert.equal((await api(a, 'DELETE', '/api/v5/connectors/http:h1')).status, 204);
    for (const n of nodes) {
      const ids = ((await api(n, 'GET', '/api/v5/connectors')).json as { id: string }[]).map((x) => x.id);
      assert.deepEqual(ids, ['http:cfgh'], n.name);
    }

    // after a restart b runs the connector made through a's API again (from its store, or a's copy when it rejoins)
    assert.equal((await api(a, 'POST', '/api/v5/connectors', { type: 'http', name: 'kept', url: sinkUrl })).status, 201);
    b.proc.kill('SIGTERM');
    await b.proc.waitExit(30_000);
    const b2: ApiNode = { ...startNode(specs[1]!), http: b.http };
    nodes[1] = b2;
    await b2.proc.waitForLog('started', 30_000);
    const kept = (await api(b2, 'GET', '/api/v5/connectors/http:kept')).json as { node_status: { node: string }[] };
    assert.ok(
      kept.node_status.some((x) => x.node === b2.name),
      JSON.stringify(kept),
    );
  } finally {
    await endAll(pub);
  }
});

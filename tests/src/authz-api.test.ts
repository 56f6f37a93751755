/**
 * EMQX's authorization API on a real two-node cluster: the sources (credentials masked), the
 * file's rules as text, a PUT checked first and then written and used on both nodes (each
 * node's own file), a bad PUT that changes nothing, the settings, clearing the cache; a
 * viewer key reads and cannot change anything.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startApiNode, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';
import { pubackCode, subackCodes } from './mqtt-codes.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-authz-api-'));
const keyFile = join(dir, 'keys');
writeFileSync(keyFile, 'ops:authz-admin-secret\nwatch:authz-viewer-secret:viewer\n');
const ADMIN = `Basic ${Buffer.from('ops:authz-admin-secret').toString('base64')}`;
const VIEWER = `Basic ${Buffer.from('watch:authz-viewer-secret').toString('base64')}`;
type ApiNode = ClusterNode & { http: number; aclFile: string };
const nodes: ApiNode[] = [];

after(async () => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.proc.waitExit().catch(() => undefined)));
  killAllVireo();
  rmSync(dir, { recursive: true, force: true });
});

async function api(node: ApiNode, method: string, path: string, body?: unknown, auth = ADMIN): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${node.http}${path}`, {
    method,
    headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
}

const FIRST = '# first rules\n- {permission: allow}\n';
const NEXT = `# written through the API
- {permission: deny, action: publish, topics: ["locked/#"]}
- {permission: deny, action: subscribe, topics: ["secret/#"]}
- {permission: allow}
`;

test('authorization API: sources, the file as text, a checked PUT used on every node, settings, cache; viewers only read', { timeout: 120_000 }, async () => {
  const rpc = [await freePort(), await freePort()];
  for (let i = 0; i < 2; i++) {
    // each node its own file, as on separate machines
    const aclFile = join(dir, `acl-${i}.yaml`);
    writeFileSync(aclFile, FIRST);
    const n = await startApiNode('authz', i, rpc, keyFile, {
      VIREO_AUTHORIZATION__SOURCES: JSON.stringify([
        { type: 'file', path: aclFile },
        // never reached (the file decides everything); shown by the API with its token masked
        { type: 'http', url: 'http://127.0.0.1:9/authz', headers: { authorization: 'Bearer never-shown', 'x-team': 'iot' } },
      ]),
    });
    nodes.push({ ...n, aclFile });
  }
  const [a, b] = nodes as [ApiNode, ApiNode];
  const clients: MqttClient[] = [];
  try {
    await Promise.all(nodes.map((n) => n.proc.waitForLog('started', 30_000)));
    await waitMembers(a, [a.name, b.name], 30_000);

    // reads, as a viewer
    const sources = await api(a, 'GET', '/api/v5/authorization/sources', undefined, VIEWER);
    assert.equal(sources.status, 200);
    const list = (sources.json as { sources: Record<string, unknown>[] }).sources;
    assert.deepEqual(
      list.map((s) => [s.type, s.enable]),
      [
        ['file', true],
        ['http', true],
      ],
    );
    assert.equal(list[0]!.path, a.aclFile);
    assert.deepEqual(list[1]!.headers, { authorization: '******', 'x-team': 'iot' });
    assert.equal(JSON.stringify(sources.json).includes('never-shown'), false, 'a credential header was shown');
    const file = await api(b, 'GET', '/api/v5/authorization/sources/file', undefined, VIEWER);
    assert.deepEqual(file.json, { type: 'file', enable: true, path: b.aclFile, rules: FIRST });
    const settings = (await api(a, 'GET', '/api/v5/authorization/settings', undefined, VIEWER)).json as Record<string, unknown>;
    assert.equal(settings.no_match, 'allow');
    assert.deepEqual(settings.cache, { enable: true, max_size: 32, ttl: '60000ms', in_use: true });

    // a viewer changes nothing
    assert.equal((await api(a, 'PUT', '/api/v5/authorization/sources/file', { rules: NEXT }, VIEWER)).status, 403);
    assert.equal((await api(a, 'DELETE', '/api/v5/authorization/cache', undefined, VIEWER)).status, 403);
    assert.equal(readFileSync(a.aclFile, 'utf8'), FIRST);

    // a bad rule: refused naming the rule and field, no node's file touched
    const bad = await api(a, 'PUT', '/api/v5/authorization/sources/file', { rules: '- {permission: allow}\n- {permission: deny, topics: ["a/#/b"]}\n' });
    assert.equal(bad.status, 400);
    assert.match((bad.json as { message: string }).message, /rule 2: topic a\/#\/b/);
    const notYaml = await api(a, 'PUT', '/api/v5/authorization/sources/file', { rules: '- {permission: allow' });
    assert.equal(notYaml.status, 400);
    assert.equal((await api(a, 'PUT', '/api/v5/authorization/sources/file', { rules: NEXT, extra: 1 })).status, 400);
    for (const n of nodes) assert.equal(readFileSync(n.aclFile, 'utf8'), FIRST);

    // clients on b, before and after the rules change through a's API
    const onB = await connect(b.url, { clientId: 'on-b', protocolVersion: 5 });
    clients.push(onB);
    assert.equal(await pubackCode(onB, 'locked/door'), 0);
    const put = await api(a, 'PUT', '/api/v5/authorization/sources/file', { type: 'file', enable: true, rules: NEXT });
    assert.equal(put.status, 204, JSON.stringify(put.json));
    assert.equal(put.headers.get('x-vireo-partial'), null);
    for (const n of nodes) assert.equal(readFileSync(n.aclFile, 'utf8'), NEXT, `${n.name}'s file`);
    await waitLog(b, 'Authorization rules written and reloaded', (l) => l.rules === 3);
    assert.equal(await pubackCode(onB, 'locked/door'), 0x87, 'the new rules are in force on b');
    assert.deepEqual(await subackCodes(onB, ['secret/#', 'open/#']), [0x87, 1]);
    assert.deepEqual(((await api(b, 'GET', '/api/v5/authorization/sources/file')).json as { rules: string }).rules, NEXT);

    assert.equal((await api(b, 'DELETE', '/api/v5/authorization/cache')).status, 204);
  } finally {
    await endAll(...clients);
  }
});

/**
 * Bans, built-in users and API keys hold cluster-wide, as EMQX's do: a ban made through
 * one node's API kicks the client on another node and refuses it everywhere; lifting it on
 * any node lifts it everywhere; a user or key added, changed or deleted on one node is so
 * on all; and a node that was away when a ban or user was made gets it when it rejoins.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { freePort, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startNode, waitLog, waitMembers, type ClusterNode, type NodeSpec } from './cluster-nodes.js';
import { connackCode } from './ctl-run.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-banned-cluster-'));
const keyFile = join(dir, 'keys');
writeFileSync(keyFile, 'ops:ban-secret\n');
const usersFile = join(dir, 'users.csv');
writeFileSync(usersFile, 'user_id,password,is_superuser\nvictim,v-pw,false\n');
const AUTH = `Basic ${Buffer.from('ops:ban-secret').toString('base64')}`;
type ApiNode = ClusterNode & { http: number };
const nodes: ApiNode[] = [];

after(() => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  rmSync(dir, { recursive: true, force: true });
});

async function api(node: ApiNode, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${node.http}${path}`, {
    method,
    headers: { authorization: AUTH, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

const bannedWho = async (n: ApiNode) => ((await api(n, 'GET', '/api/v5/banned')).json as { data: { who: string }[] }).data.map((b) => b.who).sort();

test('bans and users made on one node apply on every node; a rejoining node gets those it missed', { timeout: 120_000 }, async () => {
  const rpc = [await freePort(), await freePort()];
  const specs: (NodeSpec & { http: number })[] = [];
  for (let i = 0; i < 2; i++) {
    const http = await freePort();
    specs.push({
      name: `ban${i}@127.0.0.1`,
      rpcPort: rpc[i]!,
      mqttPort: await freePort(),
      seeds: rpc,
      http,
      extraEnv: {
        VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${http}`,
        VIREO_API_KEY__BOOTSTRAP_FILE: keyFile,
        // the first user from a bootstrap file, as the deployment files do it
        VIREO_AUTHENTICATION: `[{mechanism: password_based, backend: built_in_database, bootstrap_file: "${usersFile}", bootstrap_type: plain}]`,
      },
    });
  }
  for (const s of specs) nodes.push({ ...startNode(s), http: s.http });
  const names = specs.map((s) => s.name);
  await Promise.all(nodes.map((n) => waitMembers(n, names, 40_000)));
  const [a, b] = nodes as [ApiNode, ApiNode];

  // the client is on B; the ban is made through A's API
  const victim = mqtt.connect(b.url, { clientId: 'victim', username: 'victim', password: 'v-pw', protocolVersion: 5, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    victim.once('connect', () => resolve());
    victim.once('error', reject);
  });
  const closed = new Promise<void>((resolve) => victim.once('close', () => resolve()));
  const made = await api(a, 'POST', '/api/v5/banned', { as: 'clientid', who: 'victim', reason: 'test' });
  assert.equal(made.status, 200, JSON.stringify(made.json));
  await closed;
  victim.end(true);
  assert.equal(await connackCode(b.url, { clientId: 'victim', protocolVersion: 5 }), 0x8a, 'refused on B');
  assert.equal(await connackCode(a.url, { clientId: 'victim', protocolVersion: 5 }), 0x8a, 'refused on A');
  assert.deepEqual(await bannedWho(b), ['victim'], 'B lists the ban made on A');

  // lifted through B: gone on A too
  assert.equal((await api(b, 'DELETE', '/api/v5/banned/clientid/victim')).status, 204);
  assert.deepEqual(await bannedWho(a), []);
  assert.equal(await connackCode(a.url, { clientId: 'victim', username: 'victim', password: 'v-pw', protocolVersion: 5 }), 0);

  // a user added on A logs in on B; its password changed on B holds on A; deleted on A, refused on B
  const USERS = '/api/v5/authentication/password_based:built_in_database/users';
  assert.equal((await api(a, 'POST', USERS, { user_id: 'alice', password: 'pw-1' })).status, 201);
  assert.equal(await connackCode(b.url, { clientId: 'al1', username: 'alice', password: 'pw-1', protocolVersion: 5 }), 0);
  assert.equal(await connackCode(b.url, { clientId: 'al1', username: 'alice', password: 'nope', protocolVersion: 5 }), 0x86);
  assert.equal((await api(b, 'PUT', `${USERS}/alice`, { password: 'pw-2' })).status, 200);
  assert.equal(await connackCode(a.url, { clientId: 'al1', username: 'alice', password: 'pw-1', protocolVersion: 5 }), 0x86);
  assert.equal(await connackCode(a.url, { clientId: 'al1', username: 'alice', password: 'pw-2', protocolVersion: 5 }), 0);
  assert.equal((await api(a, 'DELETE', `${USERS}/alice`)).status, 204);
  assert.equal(await connackCode(b.url, { clientId: 'al1', username: 'alice', password: 'pw-2', protocolVersion: 5 }), 0x86);

  // an API key made on A opens B's API; deleted through B, it no longer opens A's
  const made2 = await api(a, 'POST', '/api/v5/api_key', { name: 'ops2' });
  assert.equal(made2.status, 200, JSON.stringify(made2.json));
  const { api_key: k2, api_secret: s2 } = made2.json as { api_key: string; api_secret: string };
  const withKey = (n: ApiNode) => fetch(`http://127.0.0.1:${n.http}/api/v5/nodes`, { headers: { authorization: `Basic ${Buffer.from(`${k2}:${s2}`).toString('base64')}` } });
  assert.equal((await withKey(b)).status, 200, 'the key made on A opens B');
  assert.equal((await api(b, 'DELETE', '/api/v5/api_key/ops2')).status, 204);
  assert.equal((await withKey(a)).status, 401, 'deleted on B, refused on A');

  // B is away (killed; it restarts with an empty data dir) while a ban and a user are made on A
  b.proc.kill('SIGKILL');
  await b.proc.waitExit();
  await waitLog(a, 'Cluster node down', (l) => l.peer_node === b.name, 10_000);
  const whileAway = await api(a, 'POST', '/api/v5/banned', { as: 'username', who: 'mallory' });
  assert.equal(whileAway.status, 200);
  assert.equal((await api(a, 'POST', USERS, { user_id: 'bob', password: 'bob-pw' })).status, 201);
  const b2: ApiNode = { ...startNode(specs[1]!), http: specs[1]!.http };
  nodes[1] = b2;
  await Promise.all([waitMembers(a, names, 40_000), waitMembers(b2, names, 40_000)]);
  await waitFor(async () => (await bannedWho(b2)).length > 0, 'the ban on the rejoined node', 30_000, 100).catch(() => undefined);
  assert.deepEqual(await bannedWho(b2), ['mallory'], 'the rejoined node got the ban it missed');
  assert.equal(await connackCode(b2.url, { clientId: 'm1', username: 'mallory', protocolVersion: 5 }), 0x8a);
  const usersOf = async (n: ApiNode) => ((await api(n, 'GET', USERS)).json as { data: { user_id: string }[] }).data.map((u) => u.user_id);
  await waitFor(async () => (await usersOf(b2)).includes('bob'), 'the user on the rejoined node', 30_000, 100).catch(() => undefined);
  assert.equal(await connackCode(b2.url, { clientId: 'b1', username: 'bob', password: 'bob-pw', protocolVersion: 5 }), 0, 'the rejoined node got the user it missed');
});

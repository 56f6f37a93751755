/**
 * Cluster membership operated by hand, with real `vireo start` processes and real `vireo
 * ctl` subprocesses: `manual` nodes joined with `ctl cluster join`, the joined peers kept
 * across a restart, `leave` (peers mark the node stopped, then forget it; it is not dialled
 * again until it joins), `force-leave` of a down node (refused when it comes back), status
 * in text and JSON, `cluster.autoclean`, and readiness (`/api/v5/status`).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, quietFor, sleep, waitFor, within } from './harness.js';
import { killAllVireo, VIREO_CLI } from './vireo-process.js';
import { startNode, waitLog, type ClusterNode } from './cluster-nodes.js';

// bounded, with room for a loaded machine (each node start and ctl run takes seconds there)
const T = { timeout: 180_000 };
const KEY = 'ops:s3cret';
const dirs: string[] = [];

after(() => {
  killAllVireo();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Node extends ClusterNode {
  http: number;
  dataDir: string;
}

interface Status {
  self: string;
  running_nodes: string[];
  stopped_nodes: string[];
  down_nodes: string[];
  left: boolean;
  members: { node: string; addr: string; status: string }[];
}

/** A node with its HTTP API and its own data dir (kept across restarts of that node). */
async function manualNode(name: string, extra: Record<string, string> = {}, ports?: { rpc: number; mqtt: number; http: number; dataDir: string }): Promise<Node> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-memb-'));
  dirs.push(dir);
  const keyFile = path.join(dir, 'keys');
  writeFileSync(keyFile, `${KEY}\n`);
  const p = ports ?? { rpc: await freePort(), mqtt: await freePort(), http: await freePort(), dataDir: path.join(dir, 'data') };
  const n = startNode({
    name,
    rpcPort: p.rpc,
    mqttPort: p.mqtt,
    seeds: [],
    extraEnv: {
      VIREO_CLUSTER__DISCOVERY_STRATEGY: 'manual',
      VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${p.http}`,
      VIREO_API_KEY__BOOTSTRAP_FILE: keyFile,
      VIREO_NODE__DATA_DIR: p.dataDir,
      ...extra,
    },
  });
  // a node start takes 8 s and more on a loaded machine
  await n.proc.waitForLog('started', 30_000);
  return { ...n, http: p.http, dataDir: p.dataDir };
}

function ctl(n: Node, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VIREO_')) env[k] = v;
  Object.assign(env, { VIREO_CTL_URL: `http://127.0.0.1:${n.http}`, VIREO_CTL_API_KEY: KEY });
  return new Promise((resolve) => {
    execFile(process.execPath, [VIREO_CLI, 'ctl', ...args], { env, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `GET /api/v5/cluster`, what `ctl cluster status --json` prints (polled over HTTP: a ctl process takes seconds on a loaded machine). */
async function status(n: Node): Promise<Status> {
  const res = await fetch(`http://127.0.0.1:${n.http}/api/v5/cluster`, { headers: { authorization: `Basic ${Buffer.from(KEY).toString('base64')}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as Status;
}

async function api(n: Node, method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${n.http}${url}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from(KEY).toString('base64')}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Polls `n`'s cluster status until `pred` holds. */
async function waitStatus(n: Node, what: string, pred: (s: Status) => boolean, ms = 30_000): Promise<Status> {
  let last: Status | undefined;
  await waitFor(async () => pred((last = await status(n))), `${n.name}: ${what}`, ms).catch((err: Error) => {
    throw new Error(`${err.message}; last status ${JSON.stringify(last)}`);
  });
  return last!;
}

const same = (a: string[], b: string[]) => [...a].sort().join(',') === [...b].sort().join(',');

async function readiness(n: Node): Promise<number> {
  return (await fetch(`http://127.0.0.1:${n.http}/api/v5/status`)).status;
}

test('manual nodes: ctl cluster join, status, restart rejoins, leave, join again, force-leave of a down node', T, async () => {
  const [a, b, c] = await Promise.all([manualNode('memb-a@127.0.0.1'), manualNode('memb-b@127.0.0.1'), manualNode('memb-c@127.0.0.1')]);
  const clients: MqttClient[] = [];
  try {
    // alone and ready: nothing to join
    assert.equal(await readiness(a), 200);
    assert.deepEqual((await status(a)).running_nodes, [a.name]);

    const bad = await ctl(b, 'cluster', 'join', 'not-an-address');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /expected a node name name@host or host:port/);

    const jb = await ctl(b, 'cluster', 'join', `127.0.0.1:${a.rpcPort}`);
    assert.equal(jb.code, 0, jb.stderr);
    assert.match(jb.stdout, new RegExp(`joined the cluster of ${a.name}`));
    // b invites c (EMQX's invite); c meets a through b
    const jc = await api(b, 'POST', `/api/v5/cluster/${encodeURIComponent(`127.0.0.1:${c.rpcPort}`)}/invite`);
    assert.equal(jc.status, 200, JSON.stringify(jc.body));
    assert.equal((jc.body as { node: string }).node, c.name);
    const all = [a.name, b.name, c.name];
    for (const n of [a, b, c]) await waitStatus(n, 'three running nodes', (s) => same(s.running_nodes, all));

    const again = await api(c, 'POST', '/api/v5/cluster/join', { node: `127.0.0.1:${a.rpcPort}` });
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, { code: 'ALREADY_IN_CLUSTER', message: `already in a cluster with ${a.name}` });

    // one broker across the nodes
    const sub = await connect(c.url, { clientId: 'memb-sub' });
    const pub = await connect(a.url, { clientId: 'memb-pub' });
    clients.push(sub, pub);
    await sub.subscribeAsync('memb/t', { qos: 1 });
    const got = new Promise<string>((resolve) => sub.once('message', (_t, p) => resolve(p.toString())));
    // until the subscription's route has reached a, a publish there has nobody to go to
    await waitFor(
      async () => {
        await pub.publishAsync('memb/t', 'across', { qos: 1 });
        return (await within(got, 100, undefined)) !== undefined;
      },
      'a message published on a to reach the subscriber on c',
      30_000,
    );
    assert.equal(await got, 'across');

    // b keeps whom it joined in its data dir, and a clean stop shows as `stopped`
    const saved = JSON.parse(readFileSync(path.join(b.dataDir, 'cluster.json'), 'utf8')) as { peers: { node: string }[] };
    assert.deepEqual(saved.peers.map((p) => p.node).sort(), [a.name, c.name]);
    b.proc.kill('SIGTERM');
    await b.proc.waitExit(10_000);
    await waitStatus(a, 'b stopped', (s) => s.stopped_nodes.includes(b.name) && !s.running_nodes.includes(b.name));
    const b2 = await manualNode(b.name, {}, { rpc: b.rpcPort, mqtt: b.mqttPort, http: b.http, dataDir: b.dataDir });
    await waitLog(b2, 'Rejoining the saved cluster members');
    for (const n of [a, b2, c]) await waitStatus(n, 'b back without a join', (s) => same(s.running_nodes, all));

    // leave: peers mark c stopped, then forget it, and do not dial it again
    const lc = await ctl(c, 'cluster', 'leave');
    assert.equal(lc.code, 0, lc.stderr);
    await waitLog(a, 'Cluster node stopped', (l) => l.peer_node === c.name);
    await waitStatus(a, 'c forgotten', (s) => !s.members.some((m) => m.node === c.name));
    // for longer than a discovery round (2 s): c does not come back
    await quietFor(
      2500,
      async () => {
        const sa = await status(a);
        return same(sa.running_nodes, [a.name, b2.name]) && !sa.members.some((m) => m.node === c.name);
      },
      "c stays out of a's view",
    );
    const sc = await status(c);
    assert.equal(sc.left, true);
    assert.deepEqual(sc.running_nodes, [c.name]);

    // told to: it is let back in
    const back = await api(c, 'POST', '/api/v5/cluster/join', { node: `127.0.0.1:${a.rpcPort}` });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    for (const n of [a, b2, c]) await waitStatus(n, 'c back', (s) => same(s.running_nodes, all));

    // force-leave a dead node: gone from every view, refused when it comes back
    c.proc.kill('SIGKILL');
    await c.proc.waitExit(5000);
    const down = await waitStatus(a, 'c down', (s) => s.down_nodes.includes(c.name));
    assert.ok(!down.running_nodes.includes(c.name));
    const text = await ctl(a, 'cluster', 'status');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /running_nodes : memb-a@127\.0\.0\.1, memb-b@127\.0\.0\.1\n/);
    assert.match(text.stdout, /stopped_nodes : -\n/);
    assert.match(text.stdout, /down_nodes    : memb-c@127\.0\.0\.1\n/);
    assert.match(text.stdout, /^memb-c@127\.0\.0\.1\s+127\.0\.0\.1:\d+\s+down\s+\d{4}-/m);
    const unknown = await api(a, 'DELETE', '/api/v5/cluster/nobody@127.0.0.1/force_leave');
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, { code: 'NOT_FOUND', message: 'nobody@127.0.0.1 is not in the cluster' });
    const fl = await ctl(a, 'cluster', 'force-leave', c.name);
    assert.equal(fl.code, 0, fl.stderr);
    for (const n of [a, b2]) await waitStatus(n, 'c removed', (s) => !s.members.some((m) => m.node === c.name));
    const c2 = await manualNode(c.name, {}, { rpc: c.rpcPort, mqtt: c.mqttPort, http: c.http, dataDir: c.dataDir });
    const refused = await waitLog(c2, 'Refused by cluster peer');
    assert.match(String(refused.reason), /removed from the cluster/);
    await quietFor(1000, async () => same((await status(a)).running_nodes, [a.name, b2.name]), 'the refused node stays out of the running nodes');
    c2.proc.kill('SIGKILL');
  } finally {
    await endAll(...clients);
  }
});

test('cluster.autoclean: a node down that long leaves the view and is no longer dialled', T, async () => {
  const [a, b] = await Promise.all([manualNode('clean-a@127.0.0.1', { VIREO_CLUSTER__AUTOCLEAN: '10s' }), manualNode('clean-b@127.0.0.1')]);
  const j = await ctl(b, 'cluster', 'join', `127.0.0.1:${a.rpcPort}`);
  assert.equal(j.code, 0, j.stderr);
  await waitStatus(a, 'b running', (s) => s.running_nodes.includes(b.name));
  b.proc.kill('SIGKILL');
  await b.proc.waitExit(5000);
  // b is seen down, in the status and the node list, before the autoclean removes it: the window
  // (10 s) is wide so that a loaded machine does not miss it
  await waitStatus(a, 'b down', (s) => s.down_nodes.includes(b.name));
  const nodes = (await api(a, 'GET', '/api/v5/nodes')).body as { node: string; node_status: string; cluster_status?: string }[];
  assert.deepEqual(
    nodes.map((n) => [n.node, n.node_status, n.cluster_status ?? null]),
    [
      [a.name, 'running', null],
      [b.name, 'stopped', 'down'],
    ],
  );
  const line = await waitLog(a, 'Cluster node autocleaned', (l) => l.peer_node === b.name);
  assert.ok(Number(line.for_ms) >= 10_000, `autocleaned after ${String(line.for_ms)} ms`);
  const s = await status(a);
  assert.ok(!s.members.some((m) => m.node === b.name), JSON.stringify(s));
  assert.deepEqual(
    ((await api(a, 'GET', '/api/v5/nodes')).body as { node: string }[]).map((n) => n.node),
    [a.name],
  );
  const saved = JSON.parse(readFileSync(path.join(a.dataDir, 'cluster.json'), 'utf8')) as { peers: unknown[] };
  assert.deepEqual(saved.peers, []);
  // nobody dials b's cluster port any more: listen there and count connections for longer
  // than a discovery round (2 s), once a dial already under way at the autoclean has ended
  await sleep(1500);
  let dials = 0;
  const spy = net.createServer((sock) => {
    dials++;
    sock.destroy();
  });
  await new Promise<void>((resolve) => spy.listen(b.rpcPort, '127.0.0.1', resolve));
  try {
    await quietFor(3000, () => dials === 0, 'nobody dials the autocleaned node');
  } finally {
    spy.close();
  }
  assert.equal(await readiness(a), 200);
});

test('readiness: not ready while a discovered peer answers but is not joined; ready alone when none answers, or once joined', T, async () => {
  const [rpcA, rpcB] = [await freePort(), await freePort()];
  const seeds = `[127.0.0.1:${rpcA}, 127.0.0.1:${rpcB}]`;
  const stat = { VIREO_CLUSTER__DISCOVERY_STRATEGY: 'static', VIREO_CLUSTER__STATIC__SEEDS: seeds };
  const dataA = mkdtempSync(path.join(tmpdir(), 'vireo-memb-'));
  dirs.push(dataA);
  const a = await manualNode('ready-a@127.0.0.1', stat, { rpc: rpcA, mqtt: await freePort(), http: await freePort(), dataDir: dataA });
  // b's port answers nothing yet: a is a cluster of one
  await waitFor(async () => (await readiness(a)) === 200, 'a ready alone', 30_000);
  // b answers but refuses a (another cookie): a has not joined its cluster
  const mqttB = await freePort();
  const httpB = await freePort();
  const dataB = mkdtempSync(path.join(tmpdir(), 'vireo-memb-'));
  dirs.push(dataB);
  const b = await manualNode('ready-b@127.0.0.1', { ...stat, VIREO_NODE__COOKIE: 'another-cluster-cookie' }, { rpc: rpcB, mqtt: mqttB, http: httpB, dataDir: dataB });
  // a dialled b and was refused
  await waitLog(a, 'Refused by cluster peer');
  const res = await fetch(`http://127.0.0.1:${a.http}/api/v5/status`);
  assert.equal(res.status, 503);
  assert.match(await res.text(), /is starting/);
  // liveness is not readiness: the node serves
  assert.equal((await fetch(`http://127.0.0.1:${a.http}/status`)).status, 200);
  b.proc.kill('SIGKILL');
  await b.proc.waitExit(5000);
  // the same peer with the cluster's cookie: joined, ready
  const b2 = await manualNode('ready-b@127.0.0.1', stat, { rpc: rpcB, mqtt: mqttB, http: httpB, dataDir: dataB });
  await waitStatus(a, 'b running', (s) => s.running_nodes.includes(b2.name));
  assert.equal(await readiness(a), 200);
  assert.equal(await readiness(b2), 200);
});

test('force-leave of a running node: it is told to leave, leaves, and every node forgets it', T, async () => {
  const [a, b] = await Promise.all([manualNode('fl-a@127.0.0.1'), manualNode('fl-b@127.0.0.1')]);
  const j = await api(b, 'POST', '/api/v5/cluster/join', { node: `127.0.0.1:${a.rpcPort}` });
  assert.equal(j.status, 200, JSON.stringify(j.body));
  await waitStatus(a, 'b running', (s) => s.running_nodes.includes(b.name));
  const fl = await ctl(a, 'cluster', 'force-leave', b.name);
  assert.equal(fl.code, 0, fl.stderr);
  assert.equal(fl.stdout, `${b.name} removed from the cluster\n`);
  await waitLog(b, 'Removed from the cluster by force-leave on another node', (l) => l.peer_node === a.name);
  await waitStatus(b, 'b left, alone', (s) => s.left && same(s.running_nodes, [b.name]) && s.members.length === 1);
  await waitStatus(a, 'b forgotten', (s) => !s.members.some((m) => m.node === b.name));
  // it stays out: a does not dial it, it does not dial a
  await quietFor(2500, async () => same((await status(a)).running_nodes, [a.name]), "b stays out of a's running nodes");
  const saved = JSON.parse(readFileSync(path.join(b.dataDir, 'cluster.json'), 'utf8')) as { peers: unknown[] };
  assert.deepEqual(saved.peers, []);
});

/**
 * The HTTP management API answers for the whole cluster from any node: three real
 * `vireo start` processes, clients on each, real HTTP against each node's API. Lists gather
 * from every node with the right `node` fields and paging, a kick reaches the node holding
 * the client, Prometheus modes add up what the test did, trace runs everywhere, `vireo ctl`
 * works cluster-wide, and a frozen or killed node gives a partial answer in bounded time.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { killAllVireo, VIREO_CLI } from './vireo-process.js';
import { startNode, waitLog, waitMembers, type ClusterNode, type NodeSpec } from './cluster-nodes.js';

const T = { timeout: 120_000 };
const AUTH = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;
/** `cluster.rpc.call_receive_timeout` for these nodes: what a frozen node costs an answer. */
const CALL_TIMEOUT_MS = 1000;

after(() => killAllVireo());

interface ApiNode extends ClusterNode {
  http: number;
}

async function api(n: ApiNode, p: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${n.http}${p}`, {
    ...init,
    headers: { authorization: AUTH, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    signal: AbortSignal.timeout(10_000),
  });
}

async function json<T = Record<string, unknown>>(n: ApiNode, p: string, init: RequestInit = {}): Promise<T> {
  const r = await api(n, p, init);
  assert.equal(r.status, 200, `${p}: ${await r.clone().text()}`);
  return (await r.json()) as T;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples (enough of it for these checks). */
function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function values(samples: Sample[], name: string): Sample[] {
  return samples.filter((s) => s.name === name);
}

function ctl(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VIREO_')) clean[k] = v;
  return new Promise((resolve) => {
    execFile(process.execPath, [VIREO_CLI, 'ctl', ...args], { env: { ...clean, ...env }, timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface ClientRow {
  clientid: string;
  node: string;
  connected: boolean;
}
interface PageOf<T> {
  data: T[];
  meta: { page: number; limit: number; count: number; hasnext: boolean; errors?: { node: string; reason: string }[] };
}

test('cluster-wide API: clients, kick, subscriptions, topics, nodes, stats, Prometheus modes, trace, ctl; a frozen or killed node gives a partial answer', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-capi-'));
  const keyFile = path.join(dir, 'keys');
  writeFileSync(keyFile, 'ops:s3cret\n');
  const rpc = [await freePort(), await freePort(), await freePort()];
  const nodes: ApiNode[] = [];
  const specs: NodeSpec[] = [];
  for (let i = 0; i < 3; i++) {
    const http = await freePort();
    const spec: NodeSpec = {
      name: `capi${i}@127.0.0.1`,
      rpcPort: rpc[i]!,
      mqttPort: await freePort(),
      seeds: rpc,
      extraEnv: {
        VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${http}`,
        VIREO_API_KEY__BOOTSTRAP_FILE: keyFile,
        VIREO_CLUSTER__RPC__CALL_RECEIVE_TIMEOUT: `${CALL_TIMEOUT_MS}ms`,
        // each node's traces go to <data_dir>/trace/<name>.log
        VIREO_NODE__DATA_DIR: path.join(dir, `n${i}`),
      },
    };
    specs.push(spec);
    nodes.push({ ...startNode(spec), http });
  }
  const [A, B, C] = nodes as [ApiNode, ApiNode, ApiNode];
  const names = nodes.map((n) => n.name);
  const clients: MqttClient[] = [];
  try {
    // generous: start-up is slow when the machine is loaded
    await Promise.all(nodes.map((n) => waitMembers(n, names, 40_000)));
    await Promise.all(nodes.map((n) => n.proc.waitForLog('started', 30_000)));
    const open = async (n: ApiNode, clientId: string, protocolVersion: 4 | 5 = 5) => {
      const c = await connect(n.url, { clientId, protocolVersion });
      clients.push(c);
      return c;
    };
    const a1 = await open(A, 'a1');
    const a2 = await open(A, 'a2');
    const b1 = await open(B, 'b1');
    const c1 = await open(C, 'c1');
    const c2 = await open(C, 'c2', 4);
    await b1.subscribeAsync('sensors/b/#', { qos: 1 });
    await c1.subscribeAsync('cmd/c1', { qos: 1 });
    await a1.subscribeAsync('$share/g/jobs/#', { qos: 0 });
    const where: Record<string, string> = { a1: A.name, a2: A.name, b1: B.name, c1: C.name, c2: C.name };

    // ── clients, gathered from every node, asked of node A ──────────────────
    const all = await json<PageOf<ClientRow>>(A, '/api/v5/clients?limit=100');
    assert.equal(all.meta.count, 5);
    assert.equal(all.meta.hasnext, false);
    assert.equal(all.meta.errors, undefined);
    assert.deepEqual(Object.fromEntries(all.data.map((c) => [c.clientid, c.node])), where);
    assert.ok(all.data.every((c) => c.connected));

    // pages of 2 walk every node's clients once, in the same order from any node
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const p = await json<PageOf<ClientRow>>(page === 2 ? C : A, `/api/v5/clients?limit=2&page=${page}`);
      assert.deepEqual(p.meta, { page, limit: 2, count: 5, hasnext: page < 3 });
      assert.equal(p.data.length, page < 3 ? 2 : 1);
      seen.push(...p.data.map((c) => c.clientid));
    }
    assert.deepEqual([...seen].sort(), Object.keys(where).sort());
    assert.deepEqual(
      seen,
      all.data.map((c) => c.clientid),
    );

    const onC = await json<PageOf<ClientRow>>(A, `/api/v5/clients?node=${encodeURIComponent(C.name)}`);
    assert.deepEqual(onC.data.map((c) => c.clientid).sort(), ['c1', 'c2']);
    const like = await json<PageOf<ClientRow>>(B, '/api/v5/clients?like_clientid=a');
    assert.deepEqual(like.data.map((c) => c.clientid).sort(), ['a1', 'a2']);
    assert.equal((await api(A, '/api/v5/clients?node=nope@nowhere')).status, 404);

    const one = await json<ClientRow & { proto_ver: number }>(B, '/api/v5/clients/c2');
    assert.equal(one.node, C.name);
    assert.equal(one.proto_ver, 4);
    assert.equal((await api(B, '/api/v5/clients/ghost')).status, 404);

    // ── subscriptions and routes, from any node ──────────────────────────────
    const subs = await json<PageOf<{ clientid: string; node: string; topic: string; qos: number }>>(C, '/api/v5/subscriptions');
    assert.deepEqual(subs.data.map((s) => `${s.clientid}@${s.node}:${s.topic}/${s.qos}`).sort(), [
      `a1@${A.name}:$share/g/jobs/#/0`,
      `b1@${B.name}:sensors/b/#/1`,
      `c1@${C.name}:cmd/c1/1`,
    ]);
    const topics = await json<PageOf<{ topic: string; node: string }>>(B, '/api/v5/topics');
    assert.deepEqual(topics.data.map((t) => `${t.topic}@${t.node}`).sort(), [`$share/g/jobs/#@${A.name}`, `cmd/c1@${C.name}`, `sensors/b/#@${B.name}`]);
    const subsOnB = await json<PageOf<{ clientid: string }>>(A, `/api/v5/subscriptions?node=${encodeURIComponent(B.name)}`);
    assert.deepEqual(
      subsOnB.data.map((s) => s.clientid),
      ['b1'],
    );
    assert.equal((await api(A, '/api/v5/topics?node=nope@nowhere')).status, 404);
    assert.deepEqual(await json(A, '/api/v5/clients/c1/subscriptions'), [{ clientid: 'c1', node: C.name, topic: 'cmd/c1', qos: 1, nl: 0, rap: 0, rh: 0 }]);

    // subscribe a client on C through A's API; a publish on A reaches it
    const sub = await json<{ reason_code: number }>(A, '/api/v5/clients/c2/subscribe', { method: 'POST', body: JSON.stringify({ topic: 'x/y', qos: 1 }) });
    assert.equal(sub.reason_code, 1);
    let published = 0;
    const gotXY = new Promise<string>((resolve) => c2.once('message', (t, p) => resolve(`${t}:${p.toString()}`)));
    await waitForRoute(A, 'x/y', C.name);
    await a2.publishAsync('x/y', 'hello', { qos: 1 });
    published++;
    assert.equal(await gotXY, 'x/y:hello');
    assert.equal((await api(B, '/api/v5/clients/c2/unsubscribe', { method: 'POST', body: JSON.stringify({ topic: 'x/y' }) })).status, 204);
    assert.equal((await api(B, '/api/v5/clients/c2/unsubscribe', { method: 'POST', body: JSON.stringify({ topic: 'x/y' }) })).status, 404);

    // ── nodes and stats ─────────────────────────────────────────────────────
    const nodeList = await json<{ node: string; node_status: string; live_connections: number }[]>(B, '/api/v5/nodes');
    assert.deepEqual(
      nodeList.map((n) => `${n.node}:${n.node_status}:${n.live_connections}`),
      [`${A.name}:running:2`, `${B.name}:running:1`, `${C.name}:running:2`],
    );
    assert.equal((await json<{ node: string }>(A, `/api/v5/nodes/${encodeURIComponent(C.name)}`)).node, C.name);
    assert.equal((await api(A, '/api/v5/nodes/nope@nowhere')).status, 404);
    const [tcp] = await json<{ id: string; current_connections: number; node_status: { node: string; status: { current_connections: number } }[] }[]>(B, '/api/v5/listeners');
    assert.equal(tcp?.id, 'tcp:default');
    assert.equal(tcp?.current_connections, 5);
    assert.deepEqual(
      tcp?.node_status.map((n) => [n.node, n.status.current_connections]),
      [
        [A.name, 2],
        [B.name, 1],
        [C.name, 2],
      ],
    );
    const statsAll = await json<Record<string, unknown>[]>(C, '/api/v5/stats');
    assert.deepEqual(
      statsAll.map((s) => [s.node, s['live_connections.count']]),
      [
        [A.name, 2],
        [B.name, 1],
        [C.name, 2],
      ],
    );
    const statsSum = await json(C, '/api/v5/stats?aggregate=true');
    assert.equal(statsSum['live_connections.count'], 5);
    assert.equal(statsSum['subscriptions.count'], 3);
    assert.equal(statsSum.node, undefined);

    // ── Prometheus modes match what the test did ────────────────────────────
    const burst = 7;
    const gotB = new Promise<void>((resolve) => {
      let n = 0;
      b1.on('message', (t) => {
        if (t.startsWith('sensors/b/') && ++n === burst) resolve();
      });
    });
    await waitForRoute(A, 'sensors/b/#', B.name);
    for (let i = 0; i < burst; i++) await a2.publishAsync(`sensors/b/${i}`, `m${i}`, { qos: 1 });
    published += burst;
    await gotB;
    const unagg = parseProm(await (await api(B, '/api/v5/prometheus/stats?mode=all_nodes_unaggregated')).text());
    const perNode = (name: string) => Object.fromEntries(values(unagg, name).map((s) => [s.labels.node, s.value]));
    assert.deepEqual(perNode('vireo_live_connections_count'), { [A.name]: 2, [B.name]: 1, [C.name]: 2 });
    assert.deepEqual(perNode('vireo_messages_received'), { [A.name]: published, [B.name]: 0, [C.name]: 0 });
    assert.deepEqual(perNode('vireo_messages_sent'), { [A.name]: 0, [B.name]: burst, [C.name]: 1 });
    const agg = parseProm(await (await api(C, '/api/v5/prometheus/stats?mode=all_nodes_aggregated')).text());
    const total = (name: string) => {
      const v = values(agg, name);
      assert.equal(v.length, 1, `${name}: one aggregated series, got ${JSON.stringify(v)}`);
      assert.equal(v[0]!.labels.node, undefined);
      return v[0]!.value;
    };
    assert.equal(total('vireo_live_connections_count'), 5);
    assert.equal(total('vireo_messages_received'), published);
    assert.equal(total('vireo_messages_sent'), burst + 1);
    assert.equal(total('vireo_cluster_nodes_running'), 3);
    const mine = parseProm(await (await api(A, '/api/v5/prometheus/stats?mode=node')).text());
    assert.deepEqual(
      values(mine, 'vireo_live_connections_count').map((s) => [s.labels.node, s.value]),
      [[A.name, 2]],
    );
    assert.equal((await api(A, '/api/v5/prometheus/stats?mode=everything')).status, 400);

    // ── trace starts on every node and follows c1 on C ──────────────────────
    const traceFile = path.join(dir, 'n2', 'trace', 'c1.log'); // C's
    const started = await json<{ log_size: Record<string, number> }>(A, '/api/v5/trace', {
      method: 'POST',
      body: JSON.stringify({ name: 'c1', type: 'clientid', clientid: 'c1' }),
    });
    assert.deepEqual(Object.keys(started.log_size).sort(), names);
    const gotCmd = new Promise<void>((resolve) => c1.once('message', () => resolve()));
    await a2.publishAsync('cmd/c1', 'reboot', { qos: 1 });
    published++;
    await gotCmd;
    await waitFor(() => readFileSync(traceFile, 'utf8').includes('"publish_out"'), 'trace line', 15_000);
    const line = readFileSync(traceFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('"publish_out"'))!;
    assert.equal(JSON.parse(line).node, C.name);
    const listed = await json<{ name: string; status: string; log_size: Record<string, number> }[]>(B, '/api/v5/trace');
    assert.equal(listed.length, 1);
    assert.ok(listed[0]!.log_size[C.name]! > 0);
    assert.equal(listed[0]!.log_size[A.name], 0);
    assert.equal((await json<{ status: string }>(C, '/api/v5/trace/c1/stop', { method: 'PUT' })).status, 'stopped');
    assert.equal((await api(B, '/api/v5/trace/c1', { method: 'DELETE' })).status, 204);
    assert.deepEqual(await json(A, '/api/v5/trace'), []);

    // ── kick a client on C through A's API: DISCONNECT 0x98, `kicked` on C ─
    const kicked = new Promise<number | undefined>((resolve) => c1.once('disconnect', (p) => resolve(p.reasonCode)));
    assert.equal((await api(A, '/api/v5/clients/c1', { method: 'DELETE' })).status, 204);
    assert.equal(await kicked, 0x98);
    await waitLog(C, 'Client kicked', (l) => l.clientid === 'c1');
    assert.equal((await api(A, '/api/v5/clients/c1')).status, 404);
    assert.equal((await api(A, '/api/v5/clients/c1', { method: 'DELETE' })).status, 404);

    // ── vireo ctl on node A's configuration sees and kicks clients on C ────
    const env = { VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${A.http}`, VIREO_API_KEY__BOOTSTRAP_FILE: keyFile };
    const list = await ctl(env, 'clients', 'list', '--json');
    assert.equal(list.code, 0, list.stderr);
    const listedByCtl = JSON.parse(list.stdout) as { data: ClientRow[] } | ClientRow[];
    const rows = Array.isArray(listedByCtl) ? listedByCtl : listedByCtl.data;
    assert.deepEqual(rows.map((c) => `${c.clientid}@${c.node}`).sort(), [`a1@${A.name}`, `a2@${A.name}`, `b1@${B.name}`, `c2@${C.name}`]);
    const c2Closed = new Promise<void>((resolve) => c2.once('close', () => resolve()));
    const kick = await ctl(env, 'clients', 'kick', 'c2');
    assert.equal(kick.code, 0, kick.stderr);
    await c2Closed;
    await waitLog(C, 'Client kicked', (l) => l.clientid === 'c2');

    // a trace that must follow its client to a node that restarts while it runs
    const moverFile = path.join(dir, 'n2', 'trace', 'mover.log'); // C's, and C2's (the same data dir)
    await json(B, '/api/v5/trace', { method: 'POST', body: JSON.stringify({ name: 'mover', type: 'clientid', clientid: 'mover' }) });

    // ── a frozen node: the answer comes after the call timeout, without it ─
    const c3 = await open(C, 'c3');
    assert.ok(c3.connected);
    C.proc.kill('SIGSTOP');
    let t0 = Date.now();
    const partial = await api(A, '/api/v5/clients');
    const partialMs = Date.now() - t0;
    assert.equal(partial.status, 200);
    const pbody = (await partial.json()) as PageOf<ClientRow>;
    assert.deepEqual(pbody.data.map((c) => c.clientid).sort(), ['a1', 'a2', 'b1']);
    assert.deepEqual(
      pbody.meta.errors?.map((e) => `${e.node}:${e.reason}`),
      [`${C.name}:timeout`],
    );
    assert.match(partial.headers.get('x-vireo-partial') ?? '', new RegExp(`${C.name}=timeout`));
    // bounded by the call timeout (plus slack for a loaded machine), not by C
    assert.ok(partialMs >= CALL_TIMEOUT_MS - 50 && partialMs < CALL_TIMEOUT_MS + 3000, `partial answer took ${partialMs} ms`);
    const frozenNodes = await json<{ node: string; node_status: string }[]>(B, '/api/v5/nodes');
    assert.deepEqual(
      frozenNodes.map((n) => `${n.node}:${n.node_status}`),
      [`${A.name}:running`, `${B.name}:running`, `${C.name}:stopped`],
    );
    const promText = await (await api(A, '/api/v5/prometheus/stats?mode=all_nodes_unaggregated')).text();
    assert.match(promText, new RegExp(`^# vireo: node ${C.name} is missing \\(timeout\\)`, 'm'));

    // ── killed: an answer at once is bounded whether or not A noticed yet (a call
    // pending on a link that drops fails then: admin-rpc.test.ts); once A has seen C
    // go down, C is not asked at all ─────────────────────────────────────────
    C.proc.kill('SIGKILL');
    await C.proc.waitExit(5000);
    t0 = Date.now();
    const afterKill = await json<PageOf<ClientRow>>(A, '/api/v5/clients');
    assert.ok(Date.now() - t0 < CALL_TIMEOUT_MS + 3000, `answer after a kill took ${Date.now() - t0} ms`);
    assert.deepEqual(afterKill.data.map((c) => c.clientid).sort(), ['a1', 'a2', 'b1']);
    await waitMembers(A, [A.name, B.name], 15_000);
    t0 = Date.now();
    const survivors = await json<PageOf<ClientRow>>(A, '/api/v5/clients');
    assert.ok(Date.now() - t0 < CALL_TIMEOUT_MS, `answer without C took ${Date.now() - t0} ms`);
    assert.equal(survivors.meta.errors, undefined);
    assert.deepEqual(survivors.data.map((c) => c.clientid).sort(), ['a1', 'a2', 'b1']);

    // ── C restarts: the running trace reaches it, and follows the client there ─
    const C2: ApiNode = { ...startNode(specs[2]!), http: C.http };
    nodes.push(C2);
    await waitMembers(A, names, 40_000);
    await C2.proc.waitForLog('started', 30_000);
    let t: { log_size: Record<string, number> } | undefined;
    await waitFor(
      async () => {
        [t] = await json<{ log_size: Record<string, number> }[]>(C2, '/api/v5/trace');
        return t !== undefined && C2.name in t.log_size;
      },
      'the trace to reach the restarted node',
      30_000,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(t)}`);
    });
    await open(C2, 'mover');
    await waitFor(() => readFileSync(moverFile, 'utf8').includes('"connect"'), 'mover connect traced', 15_000);
    const moved = readFileSync(moverFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { node: string; event: string });
    assert.deepEqual(
      moved.filter((l) => l.event === 'connect').map((l) => l.node),
      [C2.name],
    );
  } finally {
    await endAll(...clients).catch(() => undefined);
    for (const n of nodes) n.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Polls node `n`'s cluster-wide `/topics` until `node` reports a route for `topic`. `node`'s
 * answer travels on the same ordered stream as its route changes, after them: once `n` has
 * the answer, `n` has the route too.
 */
async function waitForRoute(n: ApiNode, topic: string, node: string): Promise<void> {
  const has = async () => (await json<PageOf<{ topic: string; node: string }>>(n, `/api/v5/topics?topic=${encodeURIComponent(topic)}`)).data.some((t) => t.node === node);
  await waitFor(has, `a route ${topic} on ${node}`, 30_000, 50);
}

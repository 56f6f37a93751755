/**
 * Rebalancing with real processes (EMQX's `rebalance start`): 300 persistent QoS 1
 * subscribers on two nodes behind a load balancer that honours availability_check
 * (lb-proxy.ts), a third node joins, a rebalance coordinated by it with thresholds that
 * apply: the donors leave the balancer's rotation, shed connections at the rate (v5
 * clients see DISCONNECT 0x9C), the clients reconnect through the balancer to the new node
 * and take their sessions along; at the end every node is within the thresholds of the
 * mean, every node is back in rotation, and every subscriber got every message published
 * meanwhile.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { apiNodeEnv, metric } from './api-node.js';
import { startNode, syncRoutes, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';
import { ctl } from './ctl-run.js';
import { AVAILABILITY_CHECK, startLbProxy, type LbProxy } from './lb-proxy.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vireo-rebalance-'));
const nodes: ClusterNode[] = [];
after(async () => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.proc.waitExit()));
  rmSync(dir, { recursive: true, force: true });
});

interface ApiClusterNode extends ClusterNode {
  httpPort: number;
  ctlEnv: Record<string, string>;
}

const AUTH = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;

async function apiNode(name: string, rpc: number, seeds: number[]): Promise<ApiClusterNode> {
  const a = await apiNodeEnv(mkdtempSync(path.join(dir, `${name}-`)));
  const n = startNode({ name: `${name}@127.0.0.1`, rpcPort: rpc, mqttPort: a.mqttPort, seeds, extraEnv: a.env });
  return { ...n, httpPort: a.httpPort, ctlEnv: a.env };
}

async function api(n: ApiClusterNode, method: string, p: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${n.httpPort}${p}`, {
    method,
    headers: { authorization: AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

test('rebalancing 300 persistent QoS 1 subscribers from two nodes onto a third that joins: within the thresholds, nothing lost', { timeout: 180_000 }, async () => {
  const rpc = [await freePort(), await freePort(), await freePort()];
  const a = await apiNode('rba', rpc[0]!, rpc);
  const b = await apiNode('rbb', rpc[1]!, rpc);
  nodes.push(a, b);
  const clients: MqttClient[] = [];
  let lb: LbProxy | undefined;
  let publishing: NodeJS.Timeout | undefined;
  let pub: MqttClient | undefined;
  try {
    await waitMembers(a, [a.name, b.name], 30_000);
    lb = await startLbProxy([
      { name: a.name, mqttPort: a.mqttPort, httpPort: a.httpPort },
      { name: b.name, mqttPort: b.mqttPort, httpPort: b.httpPort },
    ]);
    await lb.waitAvailable([a.name, b.name], 30_000);

    // 300 persistent sessions (v5, expiry 10 min), each subscribed to the stream with QoS 1
    const got = new Map<string, Set<number>>();
    const disconnects = new Map<number, number>();
    for (let i = 0; i < 300; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, k) => {
          const id = `rb-${i + k}`;
          const seen = new Set<number>();
          got.set(id, seen);
          const c = mqtt.connect(`mqtt://127.0.0.1:${lb!.port}`, {
            clientId: id,
            clean: false,
            protocolVersion: 5,
            properties: { sessionExpiryInterval: 600 },
            reconnectPeriod: 250,
            connectTimeout: 10_000,
          });
          clients.push(c);
          c.on('message', (_t, payload) => seen.add(Number(payload.toString())));
          c.on('disconnect', (p) => disconnects.set(p.reasonCode ?? 0, (disconnects.get(p.reasonCode ?? 0) ?? 0) + 1));
          await new Promise<void>((resolve, reject) => {
            c.once('connect', () => resolve());
            c.once('error', reject);
          });
          await c.subscribeAsync('rb/stream', { qos: 1 });
        }),
      );
    }
    assert.deepEqual(lb.open(), { [a.name]: 150, [b.name]: 150 });

    // the third node joins, and the balancer checks it
    const c = await apiNode('rbc', rpc[2]!, rpc);
    nodes.push(c);
    for (const n of [a, b, c]) await waitMembers(n, [a.name, b.name, c.name], 30_000);
    lb.add({ name: c.name, mqttPort: c.mqttPort, httpPort: c.httpPort });
    await lb.waitAvailable([a.name, b.name, c.name], 30_000);

    // EMQX's defaults call 150/150/0 balanced enough (abs_conn_threshold 1000)
    const lazy = await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.name)}/start`, { wait_health_check: 0 });
    assert.equal(lazy.status, 400);
    assert.match(String(lazy.json.message), /nothing_to_balance/);
    assert.equal((await api(c, 'POST', '/api/v5/load_rebalance/nobody@127.0.0.1/start', {})).status, 404);
    assert.equal((await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.name)}/start`, { conn_evict_rate: 0 })).status, 400);
    const soon = await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.name)}/start`, { wait_health_check: 'soon' });
    assert.equal(soon.status, 400, 'a wait that is neither seconds nor a duration');
    const long = await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.name)}/start`, { wait_takeover: '2d' });
    assert.equal(long.status, 400);
    assert.match(String(long.json.message), /wait_takeover: "2d" is longer than a day/);

    // a stream of QoS 1 messages, published on the new node, all through the rebalance
    pub = await connect(c.url, { clientId: 'rb-publisher', protocolVersion: 5 });
    await syncRoutes(pub, clients.slice(0, 20));
    let seq = 0;
    const publishOne = () => void pub!.publishAsync('rb/stream', String(seq++), { qos: 1 });
    publishOne();
    await waitFor(() => [...got.values()].every((s) => s.has(0)), 'every subscriber reached by the first message', 20_000);
    publishing = setInterval(publishOne, 50);

    // thresholds that apply: donors within 10 (or 5 %) of the recipients
    const r = await ctl(c.ctlEnv, [
      'rebalance',
      'start',
      '--nodes',
      `${a.name} ${b.name} ${c.name}`,
      '--wait-health-check',
      '1',
      '--conn-evict-rate',
      '20',
      '--abs-conn-threshold',
      '10',
      '--rel-conn-threshold',
      '1.05',
      '--wait-takeover',
      '1000ms', // a duration string, as the API takes
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Rebalance started/);
    // while it runs (a few seconds): the coordinator's and a donor's own status, through ctl and the API
    const [during, donorCtl, donorApi] = await Promise.all([
      ctl(c.ctlEnv, ['rebalance', 'node-status']),
      ctl(a.ctlEnv, ['rebalance', 'node-status']),
      api(a, 'GET', '/api/v5/load_rebalance/status'),
    ]);
    // the donors give load away at once: the balancer sends new clients to the new node only
    await lb.waitAvailable([c.name], 10_000);
    assert.equal((await fetch(`http://127.0.0.1:${a.httpPort}${AVAILABILITY_CHECK}`)).status, 503);
    assert.match(during.stdout, /rebalance coordinator/i);
    assert.match(during.stdout, new RegExp(`Donor nodes: .*${a.name}`));
    const global = await api(c, 'GET', '/api/v5/load_rebalance/global_status');
    const reb = global.json.rebalances as { node: string; coordinator_node: string; donors: string[] }[];
    assert.equal(reb.length, 1);
    assert.equal(reb[0]!.coordinator_node, c.name);
    assert.deepEqual(reb[0]!.donors, [a.name, b.name]);
    // a donor's own status names its role, as in EMQX: the rebalance coordinated by C
    const donor = donorApi.json as {
      node: string;
      status: string;
      process: string;
      state: string;
      coordinator_node: string;
      recipients: string[];
      connection_eviction_rate: number;
      stats: { initial_connected: number };
    };
    assert.equal(donor.status, 'enabled', JSON.stringify(donor));
    assert.equal(donor.process, 'rebalance');
    assert.equal(donor.node, a.name);
    assert.equal(donor.coordinator_node, c.name);
    assert.ok(['wait_health_check', 'evicting_conns', 'wait_takeover', 'evicting_sessions'].includes(donor.state), donor.state);
    assert.deepEqual(donor.recipients, [c.name]);
    assert.equal(donor.connection_eviction_rate, 20);
    assert.ok(donor.stats.initial_connected >= 100, JSON.stringify(donor.stats));
    assert.match(donorCtl.stdout, /rebalance donor/i);
    assert.match(donorCtl.stdout, new RegExp(`Coordinator node: ${c.name}`));

    await waitLog(c, 'Rebalance finished', () => true, 90_000);
    await lb.waitAvailable([a.name, b.name, c.name], 10_000);
    await waitFor(() => clients.every((x) => x.connected), 'every client connected again', 30_000);
    const open = lb.open();
    for (const n of [a, b, c]) {
      const k = open[n.name]!;
      assert.ok(Math.abs(k - 100) <= 10, `${n.name} has ${k} connections (${JSON.stringify(open)}), within the thresholds of the mean 100`);
    }
    assert.ok((disconnects.get(0x9c) ?? 0) >= 80, `v5 clients got DISCONNECT 0x9C (${JSON.stringify([...disconnects])})`);
    assert.ok((await metric(c.httpPort, 'vireo_rebalance_finished_total')) >= 1);
    await waitLog(a, 'Rebalance: this node takes clients again');

    // no message lost: every subscriber has every one published
    clearInterval(publishing);
    publishing = undefined;
    const last = seq;
    publishOne();
    await waitFor(() => [...got.values()].every((s) => s.has(last)), 'the last message everywhere', 30_000);
    const missing = [...got].map(([id, s]) => [id, Array.from({ length: last + 1 }, (_, i) => i).filter((i) => !s.has(i))] as const).filter(([, m]) => m.length > 0);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} subscribers missed messages`);
    assert.ok(last >= 40, `messages were published during the rebalance (${last})`);
  } finally {
    if (publishing) clearInterval(publishing);
    await endAll(pub, ...clients);
    await lb?.close();
  }
});

test('cluster.rebalance.auto: a node that joins starts a rebalance with its cluster.rebalance settings', { timeout: 120_000 }, async () => {
  const rpc = [await freePort(), await freePort(), await freePort()];
  const a = await apiNode('rbauto-a', rpc[0]!, rpc);
  const b = await apiNode('rbauto-b', rpc[1]!, rpc);
  nodes.push(a, b);
  const clients: MqttClient[] = [];
  let lb: LbProxy | undefined;
  try {
    await waitMembers(a, [a.name, b.name], 30_000);
    lb = await startLbProxy([
      { name: a.name, mqttPort: a.mqttPort, httpPort: a.httpPort },
      { name: b.name, mqttPort: b.mqttPort, httpPort: b.httpPort },
    ]);
    await lb.waitAvailable([a.name, b.name], 30_000);
    for (let i = 0; i < 60; i++) {
      const cl = mqtt.connect(`mqtt://127.0.0.1:${lb.port}`, { clientId: `rbauto-${i}`, protocolVersion: 5, reconnectPeriod: 250, connectTimeout: 10_000 });
      clients.push(cl);
      await new Promise<void>((resolve, reject) => {
        cl.once('connect', () => resolve());
        cl.once('error', reject);
      });
    }
    assert.deepEqual(lb.open(), { [a.name]: 30, [b.name]: 30 });
    const a2 = await apiNodeEnv(mkdtempSync(path.join(dir, 'rbauto-c-')));
    const c: ApiClusterNode = {
      ...startNode({
        name: 'rbauto-c@127.0.0.1',
        rpcPort: rpc[2]!,
        mqttPort: a2.mqttPort,
        seeds: rpc,
        extraEnv: {
          ...a2.env,
          VIREO_CLUSTER__REBALANCE__AUTO: 'true',
          VIREO_CLUSTER__REBALANCE__WAIT_HEALTH_CHECK: '1s',
          VIREO_CLUSTER__REBALANCE__CONN_EVICT_RATE: '10',
          VIREO_CLUSTER__REBALANCE__ABS_CONN_THRESHOLD: '3',
          VIREO_CLUSTER__REBALANCE__REL_CONN_THRESHOLD: '1.05',
          VIREO_CLUSTER__REBALANCE__WAIT_TAKEOVER: '1s',
        },
      }),
      httpPort: a2.httpPort,
      ctlEnv: a2.env,
    };
    nodes.push(c);
    lb.add({ name: c.name, mqttPort: c.mqttPort, httpPort: c.httpPort });
    const started = await waitLog(c, 'Rebalance started', () => true, 30_000);
    assert.deepEqual(started.donors, [a.name, b.name]);
    await waitLog(c, 'Rebalance finished', () => true, 60_000);
    await waitFor(() => clients.every((x) => x.connected), 'every client connected again', 30_000);
    const open = lb.open();
    for (const n of [a, b, c]) assert.ok(Math.abs(open[n.name]! - 20) <= 3, `${n.name}: ${open[n.name]} connections (${JSON.stringify(open)})`);
  } finally {
    await endAll(...clients);
    await lb?.close();
  }
});

test(
  'offline sessions: after wait_takeover the donor hands its offline persistent sessions over until within the session thresholds; none loses its queued message',
  { timeout: 120_000 },
  async () => {
    const rpc = [await freePort(), await freePort()];
    const a = await apiNode('rbsess-a', rpc[0]!, rpc);
    nodes.push(a);
    const clients: MqttClient[] = [];
    let lb: LbProxy | undefined;
    try {
      await a.proc.waitForLog('started', 30_000);
      lb = await startLbProxy([{ name: a.name, mqttPort: a.mqttPort, httpPort: a.httpPort }]);
      await lb.waitAvailable([a.name], 30_000);
      // 20 connected clients and 40 offline persistent sessions, each with a QoS 1 message queued, on a
      for (let i = 0; i < 20; i++) {
        const cl = mqtt.connect(`mqtt://127.0.0.1:${lb.port}`, { clientId: `rbsess-on-${i}`, protocolVersion: 5, reconnectPeriod: 250, connectTimeout: 10_000 });
        clients.push(cl);
        await new Promise<void>((resolve, reject) => {
          cl.once('connect', () => resolve());
          cl.once('error', reject);
        });
      }
      const offline = Array.from({ length: 40 }, (_, i) => `rbsess-off-${i}`);
      for (const id of offline) {
        const s = await connect(a.url, { clientId: id, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
        await s.subscribeAsync(`rbsess/${id}`, { qos: 1 });
        await endAll(s);
      }
      const pub = await connect(a.url, { clientId: 'rbsess-pub', protocolVersion: 5 });
      for (const id of offline) await pub.publishAsync(`rbsess/${id}`, `queued for ${id}`, { qos: 1 });
      await endAll(pub);

      const b = await apiNode('rbsess-b', rpc[1]!, rpc);
      nodes.push(b);
      for (const n of [a, b]) await waitMembers(n, [a.name, b.name], 30_000);
      lb.add({ name: b.name, mqttPort: b.mqttPort, httpPort: b.httpPort });
      await lb.waitAvailable([a.name, b.name], 30_000);
      // the waits as duration strings, as EMQX also takes them
      const r = await api(b, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(b.name)}/start`, {
        wait_health_check: '1s',
        conn_evict_rate: 20,
        abs_conn_threshold: 2,
        rel_conn_threshold: 1.05,
        wait_takeover: '1000ms',
        sess_evict_rate: 20,
        abs_sess_threshold: 2,
        rel_sess_threshold: 1.05,
      });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const done = await waitLog(b, 'Rebalance finished', () => true, 60_000);
      const counts = done.counts as Record<string, { connections: number; disconnected: number }>;
      const [ca, cb] = [counts[a.name]!, counts[b.name]!];
      assert.ok(Math.abs(ca.connections - cb.connections) <= 2, `connections ${ca.connections}/${cb.connections}`);
      assert.ok(cb.disconnected >= 18 && Math.abs(ca.disconnected - cb.disconnected) <= 2, `offline sessions ${ca.disconnected}/${cb.disconnected}`);
      assert.ok(Number(done.evicted_sessions) >= 18, `sessions moved: ${String(done.evicted_sessions)}`);

      // every offline client finds its session and its message, through the balancer
      for (const id of offline) {
        const got: string[] = [];
        const c = mqtt.connect(`mqtt://127.0.0.1:${lb.port}`, { clientId: id, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 0 });
        clients.push(c);
        c.on('message', (_t, p) => got.push(p.toString()));
        const present = await new Promise<boolean>((resolve, reject) => {
          c.once('connect', (ack) => resolve(ack.sessionPresent));
          c.once('error', reject);
        });
        assert.equal(present, true, `${id} finds its session`);
        await waitFor(() => got.includes(`queued for ${id}`), `${id}'s queued message`);
      }
    } finally {
      await endAll(...clients);
      await lb?.close();
    }
  },
);

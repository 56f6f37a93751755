#!/usr/bin/env node
// node scripts/evacuation-bench.mjs [--sessions N] [--queued Q] [--online M] [--sess-rate R] [--conn-rate R] [--part 1|2]
// Evacuation figures on this machine (docs/evacuation.md): 3 `vireo start` processes in a
// static cluster, each storing sessions on disk (SQLite, the default).
//  1. N offline persistent sessions (3.1.1, clean session 0) on node C, each with Q QoS 1
//     messages queued; `POST /api/v5/load_rebalance/C/evacuation/start` with
//     wait_health_check 0, wait_takeover 0 and sess_evict_rate R; the time until C reports
//     `prohibiting`, and a check that A and B hold N sessions and a sample finds its Q messages.
//  2. M connected clients on C, evacuated at conn_evict_rate; each reconnects to A or B at
//     once on losing its connection (what a client with a reconnect delay of 0 does): the
//     time from losing the connection to the CONNACK with Session Present, p50/p99/max.
// The clients (MQTT.js) run in this process and share the CPU with the three brokers; the
// machine's load is printed with the figures.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/server/dist/cli.js');
const { values: opt } = parseArgs({
  options: {
    sessions: { type: 'string', default: '10000' },
    queued: { type: 'string', default: '10' },
    online: { type: 'string', default: '1000' },
    'sess-rate': { type: 'string', default: '10000' },
    'conn-rate': { type: 'string', default: '500' },
    // only one of the two measurements (default: both)
    part: { type: 'string' },
  },
});
const N = Number(opt.sessions);
const Q = Number(opt.queued);
const M = Number(opt.online);
const API_KEY = 'bench:evacuation-bench-secret';
const AUTH = `Basic ${Buffer.from(API_KEY).toString('base64')}`;

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-evac-bench-'));
const procs = [];
process.on('exit', () => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
writeFileSync(path.join(dir, 'keys'), `${API_KEY}\n`);

async function cluster(tag) {
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push({ rpc: await freePort(), mqtt: await freePort(), http: await freePort() });
  const nodes = ['a', 'b', 'c'].map((n, i) => {
    const p = ports[i];
    const env = {
      ...process.env,
      VIREO_NODE__NAME: `${n}${tag}@127.0.0.1`,
      VIREO_NODE__COOKIE: 'evacuation-bench-cookie-0123456789',
      VIREO_NODE__DATA_DIR: path.join(dir, `${n}${tag}`),
      VIREO_CLUSTER__DISCOVERY_STRATEGY: 'static',
      VIREO_CLUSTER__STATIC__SEEDS: `[${ports.map((x) => `127.0.0.1:${x.rpc}`).join(', ')}]`,
      VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${p.rpc}`,
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${p.mqtt}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${p.http}`,
      VIREO_API_KEY__BOOTSTRAP_FILE: path.join(dir, 'keys'),
      VIREO_LOG__LEVEL: 'warning',
    };
    const proc = spawn(process.execPath, [CLI, 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    procs.push(proc);
    return { node: `${n}${tag}@127.0.0.1`, ...p, proc };
  });
  for (const n of nodes) {
    for (;;) {
      const r = await api(n, 'GET', '/api/v5/cluster').catch(() => undefined);
      if (r?.running_nodes?.length === 3) break;
      await sleep(200);
    }
  }
  return nodes;
}

async function api(n, method, p, body) {
  const res = await fetch(`http://127.0.0.1:${n.http}${p}`, {
    method,
    headers: { authorization: AUTH, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function connect(port, opts, onMessage) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, protocolVersion: 4, clean: false, connectTimeout: 30_000, ...opts });
    if (onMessage) c.on('message', onMessage); // before CONNACK: queued messages follow it at once
    c.once('connect', (connack) => resolve({ c, connack }));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

/** Runs `fn` over 0..n-1, `width` at a time. */
async function pool(n, width, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function untilState(n, state) {
  for (;;) {
    const s = await api(n, 'GET', '/api/v5/load_rebalance/status');
    if (s.state === state) return s;
    await sleep(50);
  }
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function offlineSessions() {
  const [a, b, c] = await cluster('1');
  console.log(`1. ${N} offline sessions with ${Q} queued QoS 1 messages each on ${c.node} (load before: ${load()})`);
  const t0 = Date.now();
  await pool(N, 100, async (i) => {
    const { c: cl } = await connect(c.mqtt, { clientId: `evb-${i}` });
    await cl.subscribeAsync('evb/all', { qos: 1 });
    await new Promise((r) => cl.end(false, {}, r));
  });
  const { c: pub } = await connect(a.mqtt, { clientId: 'evb-pub', clean: true });
  for (let k = 0; k < Q; k++) await pub.publishAsync('evb/all', `m${k}`, { qos: 1 });
  for (;;) {
    const stats = await api(c, 'GET', '/api/v5/stats');
    const s = stats.find((x) => x.node === c.node) ?? stats[0];
    if (s['sessions.count'] >= N) break;
    await sleep(200);
  }
  await sleep(2000); // the fan-out to N queues and the store's commits settle
  const probe = await api(c, 'GET', `/api/v5/clients/evb-${Math.floor(N / 2)}`);
  console.log(`   before: evb-${Math.floor(N / 2)} on ${probe.node}, mqueue_len ${probe.mqueue_len}, inflight ${probe.inflight_cnt}`);
  console.log(`   set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const started = Date.now();
  await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.node)}/evacuation/start`, {
    wait_health_check: 0,
    wait_takeover: 0,
    sess_evict_rate: Number(opt['sess-rate']),
  });
  const done = await untilState(c, 'prohibiting');
  const ms = Date.now() - started;
  const stats = await api(a, 'GET', '/api/v5/stats');
  const held = Object.fromEntries(stats.map((x) => [x.node, x['sessions.count']]));
  console.log(
    `   evacuated in ${(ms / 1000).toFixed(2)} s (${Math.round((N / ms) * 1000)} sessions/s, sess_evict_rate ${opt['sess-rate']}); pushed ${done.pushed_sessions}, failed ${done.failed_sessions}; sessions now ${JSON.stringify(held)}; load after: ${load()}`,
  );
  const after = await api(a, 'GET', `/api/v5/clients/evb-${Math.floor(N / 2)}`);
  console.log(`   after: evb-${Math.floor(N / 2)} on ${after.node}, mqueue_len ${after.mqueue_len}`);
  let got = 0;
  const sample = await connect(b.mqtt, { clientId: `evb-${Math.floor(N / 2)}` }, () => got++);
  for (let i = 0; i < 100 && got < Q; i++) await sleep(50);
  console.log(`   a sample client on ${b.node}: session present ${sample.connack.sessionPresent}, ${got}/${Q} messages`);
  sample.c.end(true);
  pub.end(true);
  for (const n of [a, b, c]) n.proc.kill('SIGKILL');
}

async function onlineClients() {
  const [a, b, c] = await cluster('2');
  console.log(`2. ${M} connected clients on ${c.node}, evacuated at conn_evict_rate ${opt['conn-rate']}; each reconnects at once to A or B (load before: ${load()})`);
  const times = [];
  const present = [];
  const clients = [];
  let pending = M;
  let allBack;
  const back = new Promise((r) => {
    allBack = r;
  });
  await pool(M, 100, async (i) => {
    const { c: cl } = await connect(c.mqtt, { clientId: `evo-${i}`, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
    await cl.subscribeAsync(`evo/${i}`, { qos: 1 });
    clients.push(cl);
    cl.once('close', async () => {
      const lost = Date.now();
      const { c: again, connack } = await connect(i % 2 ? a.mqtt : b.mqtt, { clientId: `evo-${i}`, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
      times.push(Date.now() - lost);
      present.push(connack.sessionPresent);
      clients.push(again);
      if (--pending === 0) allBack();
    });
  });
  const started = Date.now();
  await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.node)}/evacuation/start`, {
    wait_health_check: 0,
    wait_takeover: 0,
    conn_evict_rate: Number(opt['conn-rate']),
  });
  await back;
  const total = Date.now() - started;
  times.sort((x, y) => x - y);
  console.log(
    `   all ${M} back with their sessions in ${(total / 1000).toFixed(2)} s (eviction at ${opt['conn-rate']}/s takes ${(M / Number(opt['conn-rate'])).toFixed(1)} s); session present: ${present.filter(Boolean).length}/${M}`,
  );
  console.log(
    `   per client, losing the connection to CONNACK elsewhere: p50 ${pct(times, 50)} ms, p99 ${pct(times, 99)} ms, max ${times[times.length - 1]} ms; load after: ${load()}`,
  );
  for (const cl of clients) cl.end(true);
  for (const n of [a, b, c]) n.proc.kill('SIGKILL');
}

console.log(`machine: ${os.cpus().length} CPUs, load average ${load()} (shared with other work: figures are noisy)`);
if (opt.part !== '2') await offlineSessions();
if (opt.part !== '1') await onlineClients();
process.exit(0);

/**
 * Per-client rate limits on a real node (EMQX's listener `messages_rate` / `bytes_rate`): a
 * client publishing past its rate is slowed by paused reads — every message still arrives, in
 * order — and the other clients of the node are not slowed with it. The bounds on rates and
 * latencies are wide on purpose: they check the limit's effect, not the machine's speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, sleep, waitFor } from './harness.js';
import { apiNodeEnv } from './api-node.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';

/** A labelled series' value from the node's Prometheus text (`labels`: the first ones, e.g. `kind="bytes"`), NaN when absent. */
async function series(httpPort: number, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/api/v5/prometheus/stats`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels},`) || l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

/** A node with its HTTP API and `extra` keys; `fn` gets its MQTT URL and HTTP port. */
async function withNode(extra: Record<string, string>, fn: (url: string, httpPort: number, vireo: VireoProcess, clients: MqttClient[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-rate-'));
  const { mqttPort, httpPort, env } = await apiNodeEnv(dir);
  const vireo = spawnVireo({ env: { ...env, VIREO_DURABLE_STORAGE__BACKEND: 'memory', ...extra } });
  const clients: MqttClient[] = [];
  try {
    await vireo.waitForLog('started');
    await fn(`mqtt://127.0.0.1:${mqttPort}`, httpPort, vireo, clients);
  } finally {
    await endAll(...clients);
    vireo.kill('SIGKILL');
    await vireo.waitExit();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Receives `topic/#`: per topic, the sequence numbers (first 4 payload bytes) and arrival times. */
function record(sub: MqttClient): Map<string, { seq: number; at: number; sentAt: number }[]> {
  const got = new Map<string, { seq: number; at: number; sentAt: number }[]>();
  sub.on('message', (topic, payload) => {
    let list = got.get(topic);
    if (!list) got.set(topic, (list = []));
    list.push({ seq: payload.readUInt32BE(0), at: Date.now(), sentAt: Number(payload.readBigUInt64BE(4)) });
  });
  return got;
}

function message(seq: number, size = 12): Buffer {
  const b = Buffer.alloc(Math.max(size, 12), 0x61);
  b.writeUInt32BE(seq, 0);
  b.writeBigUInt64BE(BigInt(Date.now()), 4);
  return b;
}

function assertInOrder(list: { seq: number }[] | undefined, n: number, who: string): void {
  assert.equal(list?.length ?? 0, n, `${who}: ${list?.length ?? 0} of ${n} arrived`);
  list!.forEach((m, i) => assert.equal(m.seq, i, `${who}: message ${i} arrived as ${m.seq}`));
}

test('a publisher flooding past its messages_rate is slowed, not dropped, and does not slow a second publisher', { timeout: 120_000 }, async (t) => {
  await withNode({ VIREO_LISTENERS__TCP__DEFAULT__MESSAGES_RATE: '100/s' }, async (url, httpPort, vireo, clients) => {
    const sub = await connect(url, { clientId: 'sub', protocolVersion: 5 });
    clients.push(sub);
    await sub.subscribeAsync('rl/#', { qos: 1 });
    const got = record(sub);
    const a = await connect(url, { clientId: 'flooder', protocolVersion: 5 });
    const b = await connect(url, { clientId: 'steady', protocolVersion: 5 });
    clients.push(a, b);

    // A: 1 000 QoS 1 messages as fast as MQTT.js writes them
    const N = 1000;
    const started = Date.now();
    const acked = Promise.all(Array.from({ length: N }, (_, i) => a.publishAsync('rl/a', message(i), { qos: 1 })));
    // B starts once A is held back: 50 messages at 50/s
    await waitFor(() => (got.get('rl/a')?.length ?? 0) >= 100, 'the first 100 of A (the bucket is full at start)', 20_000);
    await sleep(300);
    const aBeforeB = got.get('rl/a')?.length ?? 0;
    assert.ok(aBeforeB < N / 2, `A is held back by its rate (${aBeforeB} of ${N} arrived ${Date.now() - started} ms in)`);
    for (let i = 0; i < 50; i++) {
      await b.publishAsync('rl/b', message(i), { qos: 1 });
      await sleep(20);
    }
    await waitFor(() => (got.get('rl/b')?.length ?? 0) >= 50, 'all 50 of B', 10_000);
    const aWhenBDone = got.get('rl/a')?.length ?? 0;
    assert.ok(aWhenBDone < N, `A still throttled while B published (${aWhenBDone} of ${N})`);
    const bLatency = got.get('rl/b')!.map((m) => m.at - m.sentAt);
    const worstB = Math.max(...bLatency);

    await acked;
    await waitFor(() => (got.get('rl/a')?.length ?? 0) >= N, `all ${N} of A`, 30_000);
    const aTimes = got.get('rl/a')!;
    const aMs = aTimes[N - 1].at - started;
    t.diagnostic(`A: ${N} in ${aMs} ms (${((N * 1000) / aMs).toFixed(0)}/s against 100/s, the first 100 from the full bucket); B's worst latency ${worstB} ms`);
    assertInOrder(aTimes, N, 'A');
    assertInOrder(got.get('rl/b'), 50, 'B');
    // 1 000 at 100/s with a full bucket of 100 at start: 9 s; well below the unlimited speed (<1 s)
    assert.ok(aMs >= 6000, `A was slowed to its rate: ${N} took ${aMs} ms`);
    // B is not queued behind A: at 100/s, A's backlog alone would hold a message for seconds
    assert.ok(worstB < 1000, `B's messages were not slowed by A's (worst ${worstB} ms)`);

    // counted (a pause is counted, not a packet) and logged once for the client
    const paused = await series(httpPort, 'vireo_client_rate_limited_total', 'kind="messages"');
    assert.ok(paused >= 1 && paused < N, `vireo_client_rate_limited_total{kind="messages"} = ${paused}`);
    assert.equal(await series(httpPort, 'vireo_client_rate_limited_total', 'kind="bytes"'), 0);
    const lines = vireo.logs().filter((l) => l.msg.includes('past its rate limit'));
    assert.equal(lines.length, 1, 'one log line for the throttled client');
    assert.equal(lines[0].clientid, 'flooder');
    assert.equal(lines[0].limiter, 'messages_rate');
    assert.equal(lines[0].rate, '100/s');
  });
});

test('a publisher past its bytes_rate is slowed, not dropped', { timeout: 120_000 }, async (t) => {
  await withNode({ VIREO_LISTENERS__TCP__DEFAULT__BYTES_RATE: '20KB/s' }, async (url, httpPort, _vireo, clients) => {
    const sub = await connect(url, { clientId: 'sub', protocolVersion: 4 });
    clients.push(sub);
    await sub.subscribeAsync('rl/#', { qos: 1 });
    const got = record(sub);
    const a = await connect(url, { clientId: 'bulk', protocolVersion: 4 });
    clients.push(a);
    // 100 x 1 KB: 20 KB from the full bucket, the other ~82 KB at 20 KB/s take ~4 s
    const N = 100;
    const started = Date.now();
    await Promise.all(Array.from({ length: N }, (_, i) => a.publishAsync('rl/bulk', message(i, 1024), { qos: 1 })));
    await waitFor(() => (got.get('rl/bulk')?.length ?? 0) >= N, `all ${N}`, 30_000);
    const ms = got.get('rl/bulk')![N - 1].at - started;
    t.diagnostic(`${N} KB in ${ms} ms against 20KB/s`);
    assertInOrder(got.get('rl/bulk'), N, 'bulk');
    assert.ok(ms >= 2500, `slowed to its byte rate: ${N} KB took ${ms} ms`);
    assert.ok((await series(httpPort, 'vireo_client_rate_limited_total', 'kind="bytes"')) >= 1);
  });
});

test('bytes_rate counts every byte read: a client sending SUBSCRIBEs past it is slowed too', { timeout: 120_000 }, async (t) => {
  await withNode({ VIREO_LISTENERS__TCP__DEFAULT__BYTES_RATE: '4KB/s' }, async (url, httpPort, _vireo, clients) => {
    const c = await connect(url, { clientId: 'subscriber-flood', protocolVersion: 4 });
    clients.push(c);
    // 100 SUBSCRIBEs of ~110 bytes (11 KB): 4 KB from the full bucket, the other ~7 KB at 4 KB/s take ~1.7 s
    const N = 100;
    const started = Date.now();
    const granted = await Promise.all(Array.from({ length: N }, (_, i) => c.subscribeAsync(`sf/${String(i).padStart(3, '0')}/${'x'.repeat(90)}`, { qos: 1 })));
    const ms = Date.now() - started;
    t.diagnostic(`${N} SUBSCRIBEs (~11 KB) in ${ms} ms against 4KB/s`);
    assert.equal(granted.flat().filter((g) => g.qos === 1).length, N, 'every subscription granted: slowed, not refused');
    assert.ok(ms >= 1000, `slowed to its byte rate: ${N} SUBSCRIBEs took ${ms} ms`);
    assert.ok((await series(httpPort, 'vireo_client_rate_limited_total', 'kind="bytes"')) >= 1);
  });
});

test('messages_rate on the WebSocket listener: the same, over MQTT over WebSocket', { timeout: 120_000 }, async (t) => {
  const wsPort = await freePort();
  await withNode({ VIREO_LISTENERS__WS__DEFAULT__BIND: `127.0.0.1:${wsPort}`, VIREO_LISTENERS__WS__DEFAULT__MESSAGES_RATE: '50/s' }, async (url, _httpPort, _vireo, clients) => {
    const sub = await connect(url, { clientId: 'sub', protocolVersion: 5 });
    clients.push(sub);
    await sub.subscribeAsync('rl/#', { qos: 1 });
    const got = record(sub);
    const a = await connect(`ws://127.0.0.1:${wsPort}/mqtt`, { clientId: 'ws-flooder', protocolVersion: 5 });
    clients.push(a);
    // 200 at 50/s after a bucket of 50: 3 s
    const N = 200;
    const started = Date.now();
    await Promise.all(Array.from({ length: N }, (_, i) => a.publishAsync('rl/ws', message(i), { qos: 1 })));
    await waitFor(() => (got.get('rl/ws')?.length ?? 0) >= N, `all ${N}`, 30_000);
    const ms = got.get('rl/ws')![N - 1].at - started;
    t.diagnostic(`${N} over WebSocket in ${ms} ms against 50/s`);
    assertInOrder(got.get('rl/ws'), N, 'ws');
    assert.ok(ms >= 2000, `slowed to its rate: ${N} took ${ms} ms`);
  });
});

/**
 * durability: durable — kill -9 a real node in the middle of a QoS 1 burst, restart it on the same
 * data dir, and check that every message the publisher got a PUBACK for reaches the persistent
 * subscribers (one offline, one online), in order. Repeated at random moments, a bounded number
 * of rounds.
 */
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { connect, endAll, freePort, sleep } from './harness.js';
import { killAllVireo, spawnVireo, type VireoProcess } from './vireo-process.js';

afterEach(() => killAllVireo());
const root = mkdtempSync(join(tmpdir(), 'vireo-burst-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const ROUNDS = 3;
const SESSION = { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } } as const;

async function startNode(dataDir: string, port: number): Promise<VireoProcess> {
  const vireo = spawnVireo({
    env: {
      VIREO_NODE__NAME: 'vireo@burst',
      VIREO_NODE__DATA_DIR: dataDir,
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_SYS_TOPICS__SYS_MSG_INTERVAL: 'disabled',
      // the offline subscriber's queue must not drop the oldest
      VIREO_MQTT__MAX_MQUEUE_LEN: '1000000',
    },
  });
  await vireo.waitForLog('started');
  return vireo;
}

/** A subscriber that records every payload from the first packet on (queued messages come right after CONNACK). */
function subscriber(url: string, clientId: string, got: number[]): Promise<MqttClient> {
  const opts: IClientOptions = { ...SESSION, clientId, reconnectPeriod: 0, connectTimeout: 5000 };
  const c = mqtt.connect(url, opts);
  c.on('message', (_t, payload) => got.push(Number(payload.toString())));
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** Waits until `got` stops growing for `quietMs` (bounded by `maxMs`). */
async function settle(got: number[], quietMs = 600, maxMs = 20_000): Promise<void> {
  const until = Date.now() + maxMs;
  let last = -1;
  let since = Date.now();
  while (Date.now() < until) {
    if (got.length !== last) {
      last = got.length;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
    await sleep(50);
  }
}

function firstOccurrences(seqs: number[]): number[] {
  const seen = new Set<number>();
  return seqs.filter((s) => !seen.has(s) && seen.add(s));
}

test('kill -9 during a QoS 1 burst: every PUBACKed message is delivered after restart, in order', { timeout: 120_000 }, async () => {
  const dataDir = join(root, 'data');
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  let node = await startNode(dataDir, port);

  // sessions: `off` subscribes and leaves (its messages queue), `on` stays connected
  const off0 = await connect(url, { ...SESSION, clientId: 'burst-off' });
  await off0.subscribeAsync('burst/#', { qos: 1 });
  await endAll(off0);
  let onGot: number[] = [];
  let on = await subscriber(url, 'burst-on', onGot);
  await on.subscribeAsync('burst/#', { qos: 1 });

  let base = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const pub = await connect(url, { protocolVersion: 5, clientId: `burst-pub-${round}` });
    pub.on('error', () => {});
    const acked: number[] = [];
    let next = base;
    let inflight = 0;
    let stop = false;
    const pump = () => {
      while (!stop && inflight < 64) {
        const seq = next++;
        inflight++;
        pub.publish(`burst/${round}`, String(seq), { qos: 1 }, (err) => {
          inflight--;
          // an error comes synchronously once the connection is gone: stop there
          if (err) return void (stop = true);
          acked.push(seq);
          pump();
        });
      }
    };
    pump();
    await sleep(300 + Math.floor(Math.random() * 700));
    node.kill('SIGKILL');
    // everything acknowledged up to the kill counts
    await node.waitExit();
    stop = true;
    pub.end(true);
    on.end(true);
    assert.ok(acked.length > 50, `round ${round}: only ${acked.length} messages were acknowledged before the kill`);

    node = await startNode(dataDir, port);
    const offGot: number[] = [];
    const onBefore = onGot;
    onGot = [];
    const off = await subscriber(url, 'burst-off', offGot);
    on = await subscriber(url, 'burst-on', onGot);
    await settle(offGot);
    await settle(onGot);

    const offSet = new Set(offGot);
    const missingOff = acked.filter((s) => !offSet.has(s));
    assert.deepEqual(missingOff.slice(0, 10), [], `round ${round}: offline subscriber lost ${missingOff.length} of ${acked.length} acknowledged messages`);
    const onSet = new Set([...onBefore, ...onGot]);
    const missingOn = acked.filter((s) => !onSet.has(s));
    assert.deepEqual(missingOn.slice(0, 10), [], `round ${round}: online subscriber lost ${missingOn.length} of ${acked.length} acknowledged messages`);
    for (const [who, seqs] of [
      ['offline', offGot],
      ['online', onGot],
    ] as const) {
      const firsts = firstOccurrences(seqs.filter((s) => s >= base));
      const unordered = firsts.findIndex((s, i) => i > 0 && s < firsts[i - 1]!);
      assert.equal(unordered, -1, `round ${round}: ${who} subscriber got ${firsts[unordered]} after ${firsts[unordered - 1]}`);
    }
    await endAll(off);
    base = next;
  }
  await endAll(on);
  node.kill('SIGTERM');
  await node.waitExit();
});

test('kill -9 during a QoS 2 burst: every PUBCOMPed message reaches the offline subscriber exactly once, in order', { timeout: 120_000 }, async () => {
  const dataDir = join(root, 'data-qos2');
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  let node = await startNode(dataDir, port);
  const sub0 = await connect(url, { ...SESSION, clientId: 'q2-off' });
  await sub0.subscribeAsync('q2/#', { qos: 2 });
  await endAll(sub0);

  let base = 0;
  for (let round = 1; round <= 2; round++) {
    const pub = await connect(url, { protocolVersion: 5, clientId: `q2-pub-${round}` });
    pub.on('error', () => {});
    const completed: number[] = [];
    let next = base;
    let inflight = 0;
    let stop = false;
    const pump = () => {
      while (!stop && inflight < 32) {
        const seq = next++;
        inflight++;
        pub.publish(`q2/${round}`, String(seq), { qos: 2 }, (err) => {
          inflight--;
          if (err) return void (stop = true);
          completed.push(seq); // PUBCOMP received
          pump();
        });
      }
    };
    pump();
    await sleep(300 + Math.floor(Math.random() * 700));
    node.kill('SIGKILL');
    await node.waitExit();
    stop = true;
    pub.end(true);
    assert.ok(completed.length > 20, `round ${round}: only ${completed.length} messages completed before the kill`);

    node = await startNode(dataDir, port);
    const got: number[] = [];
    const sub = await subscriber(url, 'q2-off', got);
    await settle(got);
    const mine = got.filter((s) => s >= base);
    const counts = new Map<number, number>();
    for (const s of mine) counts.set(s, (counts.get(s) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
    assert.deepEqual(twice.slice(0, 10), [], `round ${round}: ${twice.length} messages delivered more than once`);
    const missing = completed.filter((s) => !counts.has(s));
    assert.deepEqual(missing.slice(0, 10), [], `round ${round}: ${missing.length} of ${completed.length} completed messages lost`);
    const unordered = mine.findIndex((s, i) => i > 0 && s < mine[i - 1]!);
    assert.equal(unordered, -1, `round ${round}: got ${mine[unordered]} after ${mine[unordered - 1]}`);
    await endAll(sub);
    base = next;
  }
  node.kill('SIGTERM');
  await node.waitExit();
});

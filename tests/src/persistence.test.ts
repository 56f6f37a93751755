/**
 * A node's data dir: retained messages and persistent sessions survive a graceful restart and
 * a kill -9 of a real `vireo start` process; node identity and a damaged store stop start-up.
 */
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { collect, connect, endAll, freePort, quietFor, sleep, waitFor } from './harness.js';
import { killAllVireo, spawnVireo, type VireoProcess } from './vireo-process.js';

const T = { timeout: 120_000 };
afterEach(() => killAllVireo());
const root = mkdtempSync(join(tmpdir(), 'vireo-persistence-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
const newDataDir = () => join(root, `data-${++dirs}`);

async function startNode(dataDir: string, port: number, env: Record<string, string> = {}, args = ['start']): Promise<VireoProcess> {
  const vireo = spawnVireo({
    args,
    env: {
      VIREO_NODE__NAME: 'vireo@persist',
      VIREO_NODE__DATA_DIR: dataDir,
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_SYS_TOPICS__SYS_MSG_INTERVAL: 'disabled',
      ...env,
    },
  });
  await vireo.waitForLog('started');
  return vireo;
}

/** The state every restart test sets up: a persistent subscriber, a short-lived session, retained messages. */
async function populate(url: string): Promise<void> {
  const sub = await connect(url, { protocolVersion: 5, clientId: 'keeper', clean: false, properties: { sessionExpiryInterval: 3600 } });
  await sub.subscribeAsync('t/#', { qos: 1, rap: true, properties: { subscriptionIdentifier: 7 } });
  await sub.subscribeAsync('$share/g/s/+', { qos: 1 });
  const brief = await connect(url, { protocolVersion: 5, clientId: 'brief', clean: false, properties: { sessionExpiryInterval: 1 } });
  await brief.subscribeAsync('b/#', { qos: 1 });
  const v3 = await connect(url, { protocolVersion: 4, clientId: 'v3-keeper', clean: false });
  await v3.subscribeAsync('v3/#', { qos: 2 });
  const pub = await connect(url, { protocolVersion: 5, clientId: 'pub' });
  await pub.publishAsync('r/kept', 'hello', {
    qos: 1,
    retain: true,
    properties: { contentType: 'text/plain', userProperties: { a: '1' }, messageExpiryInterval: 3600, correlationData: Buffer.from([1, 2]) },
  });
  await pub.publishAsync('r/cleared', 'gone soon', { qos: 1, retain: true });
  await pub.publishAsync('r/cleared', '', { qos: 1, retain: true });
  await pub.publishAsync('r/expires', 'short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
  await endAll(sub, brief, v3, pub);
}

async function checkRestored(url: string): Promise<void> {
  // the 1 s session and the 1 s retained message have expired by now (callers wait past it)
  const sub = await connectP(url, { protocolVersion: 5, clientId: 'keeper', clean: false, properties: { sessionExpiryInterval: 3600 } });
  const v3 = await connectP(url, { protocolVersion: 4, clientId: 'v3-keeper', clean: false });
  const brief = await connectP(url, { protocolVersion: 5, clientId: 'brief', clean: false, properties: { sessionExpiryInterval: 1 } });
  const clients: MqttClient[] = [sub, v3, brief];
  try {
    assert.equal(sessionPresent(sub), true, 'persistent v5 session restored');
    assert.equal(sessionPresent(v3), true, 'persistent v3.1.1 session restored');
    assert.equal(sessionPresent(brief), false, 'a session that expired while the node was down is gone');

    // the restored subscriptions route, with their options
    const got = collect(sub, 2);
    const gotV3 = collect(v3, 1);
    const pub = await connect(url, { protocolVersion: 5, clientId: 'pub2' });
    clients.push(pub);
    await pub.publishAsync('t/x', 'after restart', { qos: 1, retain: true });
    await pub.publishAsync('s/1', 'shared', { qos: 1 });
    await pub.publishAsync('v3/y', 'v3', { qos: 2 });
    const msgs = await got;
    const t = msgs.find((m) => m.topic === 't/x');
    assert.ok(t, JSON.stringify(msgs.map((m) => m.topic)));
    assert.equal(t.packet.qos, 1);
    assert.equal(t.packet.retain, true, 'Retain As Published kept');
    assert.deepEqual(t.packet.properties?.subscriptionIdentifier, 7);
    assert.ok(
      msgs.some((m) => m.topic === 's/1'),
      'shared subscription restored',
    );
    const v3msg = (await gotV3)[0]!;
    assert.equal(v3msg.packet.qos, 2);

    // retained: kept with its properties; cleared and expired ones are not back
    const reader = await connect(url, { protocolVersion: 5, clientId: 'reader' });
    clients.push(reader);
    let arrived = 0;
    reader.on('message', () => arrived++);
    const retained = collect(reader, 2);
    await reader.subscribeAsync('r/#', { qos: 1 });
    await reader.subscribeAsync('t/#', { qos: 1 });
    const rs = await retained;
    await quietFor(200, () => arrived === 2, 'no other retained message');
    const r = rs.find((m) => m.topic === 'r/kept');
    assert.ok(r, JSON.stringify(rs.map((m) => m.topic)));
    assert.equal(r.payload, 'hello');
    assert.equal(r.packet.properties?.contentType, 'text/plain');
    assert.deepEqual({ ...r.packet.properties?.userProperties }, { a: '1' });
    assert.deepEqual(r.packet.properties?.correlationData, Buffer.from([1, 2]));
    const expiry = r.packet.properties?.messageExpiryInterval ?? 0;
    assert.ok(expiry > 3500 && expiry <= 3600, `expiry counts down: ${expiry}`);
    assert.deepEqual(rs.map((m) => m.topic).sort(), ['r/kept', 't/x']);
  } finally {
    await endAll(...clients);
  }
}

/** Session Present of the client's last CONNACK. */
const present = new WeakMap<MqttClient, boolean>();
function sessionPresent(c: MqttClient): boolean | undefined {
  return present.get(c);
}

async function connectP(url: string, opts: IClientOptions): Promise<MqttClient> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 15_000, ...opts });
  c.once('connect', (ack) => present.set(c, ack.sessionPresent));
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', (err) => {
      c.end(true);
      reject(err);
    });
  });
  return c;
}

for (const how of ['SIGTERM', 'SIGKILL'] as const) {
  test(`retained messages and persistent sessions survive a ${how === 'SIGTERM' ? 'graceful restart' : 'kill -9'}`, T, async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const first = await startNode(dataDir, port);
    await populate(url);
    // the store commits each event-loop turn's writes in one batch, off the event loop: before
    // the crash, the last batch (the sessions going offline) must be on disk. The node must have
    // seen the clients go; then a retained change's PUBACK comes only after its commit, and
    // commits are in order (durability: durable): once it is here, so is all before it
    if (how === 'SIGKILL') {
      const gone = ['keeper', 'brief', 'v3-keeper', 'pub'];
      await waitFor(() => gone.every((id) => first.logs().some((l) => l.msg === 'Client disconnected' && l.clientid === id)), 'the four disconnects', 30_000);
      const marker = await connect(url, { clientId: 'marker' });
      await marker.publishAsync('marker/committed', 'm', { qos: 1, retain: true });
      await endAll(marker);
    }
    first.kill(how);
    const exit = await first.waitExit();
    assert.deepEqual(exit, how === 'SIGTERM' ? { code: 0, signal: null } : { code: null, signal: 'SIGKILL' });
    await sleep(1100); // past the 1 s expiries

    const second = await startNode(dataDir, port);
    const restored = second.logs().find((l) => l.msg.startsWith('Restored'));
    assert.equal(restored?.sessions, 2, JSON.stringify(restored)); // keeper, v3-keeper; brief expired while the node was down
    await checkRestored(url);
    second.kill('SIGTERM');
    assert.equal((await second.waitExit()).code, 0);
  });
}

test('a data dir belongs to its node name: another name fails start-up, --force adopts it', T, async () => {
  const dataDir = newDataDir();
  const port = await freePort();
  const a = await startNode(dataDir, port);
  a.kill('SIGTERM');
  await a.waitExit();
  assert.deepEqual(JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8')), { node: 'vireo@persist' });

  const env = {
    VIREO_NODE__NAME: 'vireo@other',
    VIREO_NODE__DATA_DIR: dataDir,
    VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
    VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
  };
  const b = spawnVireo({ env });
  assert.equal((await b.waitExit()).code, 1);
  assert.match(b.stderr(), /belongs to node vireo@persist, not vireo@other/);
  assert.match(b.stderr(), /--force/);

  const c = spawnVireo({ env, args: ['start', '--force'] });
  const adopted = await c.waitForLog('adopted');
  assert.equal(adopted.previous_node, 'vireo@persist');
  await c.waitForLog('started');
  c.kill('SIGTERM');
  await c.waitExit();
  assert.deepEqual(JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8')), { node: 'vireo@other' });
});

test('a damaged store fails start-up naming the file, and is left as it was', T, async () => {
  const dataDir = newDataDir();
  const port = await freePort();
  const a = await startNode(dataDir, port);
  a.kill('SIGTERM');
  await a.waitExit();
  const file = join(dataDir, 'vireo.db');
  const garbage = Buffer.alloc(8192, 0x5a);
  writeFileSync(file, garbage);
  for (const suffix of ['-wal', '-shm']) rmSync(file + suffix, { force: true });

  const b = spawnVireo({
    env: { VIREO_NODE__NAME: 'vireo@persist', VIREO_NODE__DATA_DIR: dataDir, VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`, VIREO_LISTENERS__WS__DEFAULT__BIND: '0' },
  });
  assert.equal((await b.waitExit()).code, 1);
  assert.ok(b.stderr().includes(file), b.stderr());
  assert.match(b.stderr(), /not a database/);
  assert.deepEqual(readFileSync(file), garbage, 'never emptied');
});

test('durable_storage.backend memory: nothing is written, nothing survives', T, async () => {
  const dataDir = newDataDir();
  const port = await freePort();
  const env = { VIREO_DURABLE_STORAGE__BACKEND: 'memory' };
  const a = await startNode(dataDir, port, env);
  const pub = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'mem-pub' });
  await pub.publishAsync('m/r', 'x', { qos: 1, retain: true });
  await endAll(pub);
  a.kill('SIGTERM');
  await a.waitExit();
  assert.equal(existsSync(join(dataDir, 'vireo.db')), false);

  await startNode(dataDir, port, env);
  const reader = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'mem-reader' });
  const got: string[] = [];
  reader.on('message', (t) => got.push(t));
  await reader.subscribeAsync('m/#', { qos: 1 });
  await quietFor(200, () => got.length === 0, `no retained message survives: ${got.join(', ')}`);
  await endAll(reader);
});

test('delayed wills survive a kill -9: one due while the node was down goes out at start, the other on time', T, async () => {
  const dataDir = newDataDir();
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const node = await startNode(dataDir, port);
  const watcher = await connect(url, { protocolVersion: 5, clientId: 'will-watcher', clean: false, properties: { sessionExpiryInterval: 3600 } });
  await watcher.subscribeAsync('will/#', { qos: 1 });
  await endAll(watcher);
  const willer = (id: string, delay: number) =>
    connect(url, {
      protocolVersion: 5,
      clientId: id,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      will: { topic: `will/${id}`, payload: Buffer.from('bye'), qos: 1, retain: false, properties: { willDelayInterval: delay } },
    });
  const early = await willer('early', 1);
  const late = await willer('late', 4);
  // a lost connection (not DISCONNECT): the wills wait for their delays
  early.stream.destroy();
  late.stream.destroy();
  // the node must have seen both connections go: that is when the delayed wills are written
  await waitFor(() => ['early', 'late'].every((id) => node.logs().some((l) => l.msg === 'Client disconnected' && l.clientid === id)), 'both disconnects', 10_000);
  // with durable storage a QoS 1 PUBACK for a message queued to an offline persistent session
  // comes only after its commit, and commits are in order: once it is here, the wills are on disk
  const marker = await connect(url, { clientId: 'marker' });
  await marker.publishAsync('will/marker', 'm', { qos: 1 });
  await endAll(marker);
  node.kill('SIGKILL');
  await node.waitExit();
  await sleep(1200); // past `early`'s delay

  const again = await startNode(dataDir, port);
  const restored = again.logs().find((l) => l.msg.startsWith('Restored'));
  assert.equal(restored?.wills, 2, JSON.stringify(restored));
  const got: string[] = [];
  const w = mqtt.connect(url, { protocolVersion: 5, clientId: 'will-watcher', clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0 });
  w.on('message', (topic) => got.push(topic));
  try {
    await waitFor(() => got.length >= 3, `three wills (got ${got.join(', ')})`, 8000).catch(() => undefined);
    await quietFor(300, () => got.length <= 3, 'no duplicate will');
    assert.deepEqual(got, ['will/marker', 'will/early', 'will/late']);
  } finally {
    await endAll(w, early, late);
  }
});

/**
 * MQTT bridges against a real Mosquitto: a `vireo start` process configured only through
 * VIREO_BRIDGES__MQTT__<NAME>__… variables sends local messages out (egress) and brings
 * remote ones in (ingress), keeps what it could not send while Mosquitto is down, bounds
 * that buffer, does not loop, and refuses a bridge it cannot run at start-up.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net, { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { connect, endAll, freePort, quietFor, waitFor } from './harness.js';
import { killAllVireo, spawnVireo, type VireoProcess } from './vireo-process.js';
import { startMosquitto, type Mosquitto } from './mosquitto-server.js';

const T = { timeout: 120_000 };
const clients: MqttClient[] = [];
const procs: VireoProcess[] = [];
const brokers: Mosquitto[] = [];
const keyDir = mkdtempSync(join(tmpdir(), 'vireo-bridge-keys-'));
const keyFile = join(keyDir, 'keys');
writeFileSync(keyFile, 'ops:bridge-test-secret\n');
const AUTH = `Basic ${Buffer.from('ops:bridge-test-secret').toString('base64')}`;

after(async () => {
  await endAll(...clients);
  for (const p of procs) p.kill('SIGKILL');
  killAllVireo();
  for (const m of brokers) {
    await m.stop();
    rmSync(m.dir, { recursive: true, force: true });
  }
  rmSync(keyDir, { recursive: true, force: true });
});

interface BridgeView {
  id: string;
  status: string;
  node_status: { node: string; status: string; status_reason?: string }[];
  metrics: Record<string, number>;
}

async function bridgeApi(api: string): Promise<BridgeView[]> {
  const res = await fetch(`${api}/api/v5/bridges`, { headers: { authorization: AUTH } });
  assert.equal(res.status, 200);
  return (await res.json()) as BridgeView[];
}

/** A Vireo node with one bridge `b` to `remotePort`; `bridge` holds the bridge's keys (without the prefix). */
async function vireoWithBridge(remotePort: number, bridge: Record<string, string>): Promise<{ url: string; api: string; proc: VireoProcess }> {
  const port = await freePort();
  const httpPort = await freePort();
  const env: Record<string, string> = {
    VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${httpPort}`,
    VIREO_API_KEY__BOOTSTRAP_FILE: keyFile,
    VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
    VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
    VIREO_BRIDGES__MQTT__B__SERVER: `127.0.0.1:${remotePort}`,
    VIREO_BRIDGES__MQTT__B__RECONNECT_INTERVAL: '200ms',
  };
  for (const [k, v] of Object.entries(bridge)) env[`VIREO_BRIDGES__MQTT__B__${k}`] = v;
  const proc = spawnVireo({ env });
  procs.push(proc);
  await proc.waitForLog('started', 10_000);
  return { url: `mqtt://127.0.0.1:${port}`, api: `http://127.0.0.1:${httpPort}`, proc };
}

async function client(url: string, clientId: string, opts: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
  const c = await connect(url, { clientId, ...opts });
  clients.push(c);
  return c;
}

/** Mosquitto's log shows the bridge's (client id `b:…`) SUBSCRIBE to `filter`. */
function bridgeSubscribed(m: Mosquitto, filter: string): boolean {
  const lines = m.log().split('\n');
  return lines.some((l, i) => l.includes('Received SUBSCRIBE from b:') && lines[i + 1]?.includes(`\t${filter} (QoS`));
}

/** Every message on topics starting with `prefix`, as `topic=payload@qos`. */
function record(c: MqttClient, prefix: string): string[] {
  const got: string[] = [];
  c.on('message', (topic, payload, packet) => topic.startsWith(prefix) && got.push(`${topic}=${payload.toString()}@${packet.qos}`));
  return got;
}

test('egress and ingress through Mosquitto (3.1.1): templates, QoS, only matching topics', T, async () => {
  const m = await startMosquitto(await freePort());
  brokers.push(m);
  const v = await vireoWithBridge(m.port, {
    EGRESS__LOCAL__TOPIC: 'up/#',
    EGRESS__REMOTE__TOPIC: 'site1/${topic}',
    INGRESS__REMOTE__TOPIC: 'cmd/site1/#',
    INGRESS__LOCAL__TOPIC: 'local/${topic}',
    INGRESS__LOCAL__PAYLOAD: '${payload} (via ${clientid})',
  });
  await v.proc.waitForLog('Bridge connected', 10_000);
  const remote = await client(m.url, 'remote-sub');
  await remote.subscribeAsync('#', { qos: 1 });
  const remoteGot = record(remote, 'site1/');
  const local = await client(v.url, 'local-sub');
  await local.subscribeAsync('local/#', { qos: 1 });
  const localGot = record(local, 'local/');

  const pub = await client(v.url, 'local-pub');
  await pub.publishAsync('up/a/b', 'hello', { qos: 1 });
  await pub.publishAsync('up/zero', 'z', { qos: 0 });
  await pub.publishAsync('other/x', 'not bridged', { qos: 1 });
  await waitFor(() => remoteGot.length >= 2, 'two messages at Mosquitto', 15_000);
  // the bridge subscribes right after it connects: Mosquitto's log shows when that is in
  await waitFor(() => bridgeSubscribed(m, 'cmd/site1/#'), 'the ingress subscription at Mosquitto', 15_000);
  const rpub = await client(m.url, 'remote-pub');
  await rpub.publishAsync('cmd/site1/reboot', 'now', { qos: 1 });
  await waitFor(() => localGot.length > 0, 'the remote command to arrive locally', 15_000);
  await quietFor(300, () => localGot.length <= 1 && remoteGot.length <= 2, 'no further copies either way');
  assert.deepEqual(remoteGot, ['site1/up/a/b=hello@1', 'site1/up/zero=z@0']);
  assert.equal(localGot.length, 1);
  assert.match(localGot[0]!, /^local\/cmd\/site1\/reboot=now \(via b:vireo@.+\)@1$/);

  // the API and Prometheus count what just happened
  const [view] = await bridgeApi(v.api);
  assert.equal(view?.id, 'mqtt:b');
  assert.equal(view?.status, 'connected');
  assert.deepEqual({ ...view?.metrics }, { matched: 2, success: 2, failed: 0, dropped: 0, queuing: 0, inflight: 0, received: 1 });
  const text = await (await fetch(`${v.api}/api/v5/prometheus/stats`)).text();
  assert.match(text, /^vireo_bridge_matched\{bridge="mqtt:b",node="[^"]+"\} 2$/m);
  assert.match(text, /^vireo_bridge_received\{bridge="mqtt:b",node="[^"]+"\} 1$/m);
  assert.match(text, /^vireo_bridge_connected\{bridge="mqtt:b",node="[^"]+"\} 1$/m);
});

test('Mosquitto down: QoS 1 egress waits and arrives in order once it is back; the log says so', T, async () => {
  const port = await freePort();
  let m = await startMosquitto(port);
  brokers.push(m);
  const v = await vireoWithBridge(port, { EGRESS__LOCAL__TOPIC: 'q/#' });
  await v.proc.waitForLog('Bridge connected', 10_000);
  // a persistent subscriber at Mosquitto: its session (and what is queued for it) survives Mosquitto's restart
  const sub = await client(m.url, 'remote-keeper', { clean: false });
  await sub.subscribeAsync('q/#', { qos: 1 });
  sub.end(true);

  await m.stop('SIGTERM');
  await v.proc.waitForLog('Bridge disconnected', 5000);
  const pub = await client(v.url, 'outage-pub');
  for (let i = 0; i < 20; i++) await pub.publishAsync(`q/${i}`, `m${i}`, { qos: 1 });
  await v.proc.waitForLog('Bridge connection error', 5000); // a reconnection attempt was refused
  const [down] = await bridgeApi(v.api);
  assert.equal(down?.status, 'disconnected');
  assert.equal(down?.metrics.queuing, 20, 'the 20 messages wait in the bridge');
  assert.match(down?.node_status[0]?.status_reason ?? '', /ECONNREFUSED/);

  m = await startMosquitto(port, m.dir);
  brokers[brokers.length - 1] = m;
  await waitFor(() => v.proc.logs().filter((l) => l.msg === 'Bridge connected').length >= 2, 'the bridge to reconnect', 10_000);
  // listening before CONNACK: the queued messages follow it at once
  const back = mqtt.connect(m.url, { clientId: 'remote-keeper', clean: false, reconnectPeriod: 0 });
  clients.push(back);
  const got = record(back, 'q/');
  await waitFor(() => got.length >= 20, 'the 20 held messages', 10_000).catch((err: Error) => {
    throw new Error(`${err.message}; got ${got.length}\nmosquitto:\n${m.log().slice(-3000)}\nvireo:\n${v.proc.stdout().slice(-3000)}`);
  });
  await quietFor(300, () => got.length <= 20, 'no more than the 20 held messages');
  assert.deepEqual(
    got,
    Array.from({ length: 20 }, (_, i) => `q/${i}=m${i}@1`),
  );
  const reconnected = v.proc.logs().find((l) => l.msg === 'Bridge connected' && l.reconnected === true);
  assert.ok(reconnected, 'the second connection is logged as a reconnection');
});

test('a full buffer drops new egress messages, counted in the log; the first ones still go', T, async () => {
  const port = await freePort(); // nothing listens there yet
  const v = await vireoWithBridge(port, { EGRESS__LOCAL__TOPIC: 'f/#', RESOURCE_OPTS__MAX_BUFFER_BYTES: '1KB' });
  const pub = await client(v.url, 'full-pub');
  const payload = 'x'.repeat(100);
  for (let i = 0; i < 30; i++) await pub.publishAsync(`f/${String(i).padStart(2, '0')}`, payload, { qos: 1 });
  const full = await v.proc.waitForLog('Bridge buffer full', 5000);
  assert.ok(Number(full.dropped) >= 1);
  const m = await startMosquitto(await freePort());
  brokers.push(m);
  const sub = await client(m.url, 'full-sub');
  await sub.subscribeAsync('f/#', { qos: 1 });
  const got = record(sub, 'f/');
  // only now can the bridge reach Mosquitto, through a relay on the bridge's port: what it sends
  // at once has a subscriber (Mosquitto straight on that port raced the bridge's reconnect)
  const relay = net.createServer((s) => {
    const up = tcpConnect(m.port, '127.0.0.1');
    s.pipe(up).pipe(s);
    s.on('error', () => up.destroy());
    up.on('error', () => s.destroy());
    s.on('close', () => up.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
  try {
    // 1 KB holds 9 messages of 104 bytes (payload + topic)
    await waitFor(() => got.length >= 9, 'the buffered messages', 10_000);
    await quietFor(500, () => got.length <= 9, 'no more than the 9 buffered messages');
    assert.deepEqual(
      got,
      Array.from({ length: 9 }, (_, i) => `f/${String(i).padStart(2, '0')}=${payload}@1`),
    );
  } finally {
    relay.close();
  }
});

test('v5 both ways on overlapping topics: no loop, one copy each side, properties kept', T, async () => {
  const m = await startMosquitto(await freePort());
  brokers.push(m);
  const v = await vireoWithBridge(m.port, {
    PROTO_VER: 'v5',
    EGRESS__LOCAL__TOPIC: 'both/#',
    INGRESS__REMOTE__TOPIC: 'both/#',
  });
  await v.proc.waitForLog('Bridge connected', 10_000);
  const local = await client(v.url, 'loop-local', { protocolVersion: 5 });
  await local.subscribeAsync('both/#', { qos: 1 });
  const localGot = record(local, 'both/');
  const remote = await client(m.url, 'loop-remote', { protocolVersion: 5 });
  await remote.subscribeAsync('both/#', { qos: 1 });
  const remoteGot = record(remote, 'both/');
  let remoteProps: Record<string, unknown> | undefined;
  remote.on('message', (t, _p, packet) => t === 'both/props' && (remoteProps = { ...packet.properties?.userProperties }));
  await waitFor(() => bridgeSubscribed(m, 'both/#'), "the bridge's subscription at Mosquitto", 15_000);

  await local.publishAsync('both/props', 'p', { qos: 1, properties: { userProperties: { site: 'a1' } } });
  const rpub = await client(m.url, 'loop-rpub', { protocolVersion: 5 });
  await rpub.publishAsync('both/in', 'i', { qos: 1 });
  await waitFor(() => localGot.length >= 2 && remoteGot.length >= 2, 'both messages on both sides', 15_000);
  // a loop would show up as more copies within a second
  await quietFor(1000, () => localGot.length <= 2 && remoteGot.length <= 2, 'no copies going round a loop');
  assert.deepEqual(localGot.sort(), ['both/in=i@1', 'both/props=p@1']);
  assert.deepEqual(remoteGot.sort(), ['both/in=i@1', 'both/props=p@1']);
  assert.deepEqual(remoteProps, { site: 'a1' });
});

test('a bridge it cannot run stops start-up, naming each key', T, async () => {
  const proc = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_BRIDGES__MQTT__NOSERVER__EGRESS__LOCAL__TOPIC: 'a/#',
      VIREO_BRIDGES__MQTT__BADTPL__SERVER: '127.0.0.1:1',
      VIREO_BRIDGES__MQTT__BADTPL__EGRESS__LOCAL__TOPIC: 'a/#',
      VIREO_BRIDGES__MQTT__BADTPL__EGRESS__REMOTE__TOPIC: 'x/${nope}',
      VIREO_BRIDGES__MQTT__NODIR__SERVER: '127.0.0.1:1',
    },
  });
  procs.push(proc);
  const exit = await proc.waitExit(10_000);
  assert.equal(exit.code, 2, proc.stderr());
  const err = proc.stderr();
  assert.match(err, /bridges\.mqtt\.noserver\.server: required/);
  assert.match(err, /bridges\.mqtt\.badtpl\.egress\.remote\.topic: unknown placeholder \$\{nope\}/);
  assert.match(err, /bridges\.mqtt\.nodir: needs ingress\.remote\.topic or egress\.local\.topic/);
});

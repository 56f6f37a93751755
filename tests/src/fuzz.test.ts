/**
 * Fuzz: for a bounded time, many concurrent raw connections feed the broker random bytes and
 * mutated valid packets (CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, acks, PUBREL, DISCONNECT,
 * AUTH from mqtt-packet's generate; bits flipped, bytes inserted/deleted/overwritten,
 * truncated, spliced, split into odd chunks), while a well-behaved MQTT.js publisher and
 * subscriber exchange QoS 1 messages. The subscriber must get every message the publisher
 * got a PUBACK for, in order; the broker must stay up, log no internal error, keep its
 * memory bounded, and hold no connection after the fuzzers are gone.
 *
 * Replay a failure with the seed it prints: VIREO_FUZZ_SEED=<seed> (VIREO_FUZZ_MS sets the
 * in-process run's duration).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { startBroker, freePort, waitFor, sleep, connect, endAll, within } from './harness.js';
import { captureLog } from './log-capture.js';
import { Bystander, bystanderProblems } from './bystander.js';
import { MIN_PROCESS_WAIT_MS, spawnVireo } from './vireo-process.js';

// ── seeded randomness ─────────────────────────────────────────────────────────

type Rng = () => number;

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)];
const chance = (rng: Rng, p: number) => rng() < p;
function bytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(rng, 256);
  return b;
}

function seedFromEnv(name: string): number {
  const s = process.env[name];
  return s ? Number(s) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}

// ── valid packets ─────────────────────────────────────────────────────────────

const TOPICS = ['fuzz/a', 'fuzz/a/b', 'fuzz', 'a', '/', 'fuzz//x', 'fuzz/é/ü', '$SYS/fuzz', 'fuzz/' + 'x'.repeat(200)];
const FILTERS = ['#', '+', 'fuzz/#', 'fuzz/+', '+/+/+', '$share/g/fuzz/#', '$queue/fuzz/a', '$SYS/#', 'fuzz/a/b', 'a/#', '$share/h/#'];
type V = 3 | 4 | 5;

function userProps(rng: Rng): Record<string, string | string[]> | undefined {
  if (!chance(rng, 0.3)) return undefined;
  return chance(rng, 0.5) ? { k: 'v' } : { a: ['1', '2'], b: 'x'.repeat(int(rng, 50)) };
}

function validConnect(rng: Rng, v: V): Packet {
  const p: mqttPacket.IConnectPacket = {
    cmd: 'connect',
    protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: v,
    clientId: chance(rng, 0.1) && v !== 3 ? '' : `fuzz-${int(rng, 40)}`,
    clean: chance(rng, 0.7),
    keepalive: pick(rng, [0, 1, 5, 60, 65535]),
  };
  if (chance(rng, 0.3)) p.will = { topic: pick(rng, TOPICS), payload: bytes(rng, int(rng, 20)), qos: int(rng, 3) as 0 | 1 | 2, retain: chance(rng, 0.3) };
  if (chance(rng, 0.3)) p.username = 'user';
  if (p.username && chance(rng, 0.5)) p.password = Buffer.from('pass');
  if (v === 5) {
    const props: mqttPacket.IConnectPacket['properties'] = {};
    if (chance(rng, 0.5)) props.sessionExpiryInterval = pick(rng, [0, 1, 30, 0xffffffff]);
    if (chance(rng, 0.3)) props.receiveMaximum = 1 + int(rng, 100);
    if (chance(rng, 0.3)) props.maximumPacketSize = pick(rng, [20, 200, 100_000]);
    if (chance(rng, 0.3)) props.topicAliasMaximum = int(rng, 20);
    if (chance(rng, 0.2)) props.requestResponseInformation = chance(rng, 0.5);
    if (chance(rng, 0.2)) props.requestProblemInformation = chance(rng, 0.5);
    if (chance(rng, 0.05)) props.authenticationMethod = 'SCRAM-SHA-1';
    const up = userProps(rng);
    if (up) props.userProperties = up;
    p.properties = props;
    if (p.will && chance(rng, 0.5)) p.will.properties = { willDelayInterval: int(rng, 3), messageExpiryInterval: int(rng, 100), contentType: 'text/plain' };
  }
  return p;
}

function validPacket(rng: Rng, v: V): Packet {
  const id = 1 + int(rng, 65535);
  const r = int(rng, 12);
  switch (r) {
    case 0:
    case 1:
    case 2: {
      const qos = int(rng, 3) as 0 | 1 | 2;
      const p: mqttPacket.IPublishPacket = {
        cmd: 'publish',
        topic: pick(rng, TOPICS),
        payload: bytes(rng, pick(rng, [0, 1, 10, 100, 1000])),
        qos,
        retain: chance(rng, 0.2),
        dup: chance(rng, 0.1),
      };
      if (qos > 0) p.messageId = id;
      if (v === 5 && chance(rng, 0.5)) {
        p.properties = {};
        if (chance(rng, 0.4)) {
          p.properties.topicAlias = 1 + int(rng, 12);
          if (chance(rng, 0.5)) p.topic = '';
        }
        if (chance(rng, 0.3)) p.properties.messageExpiryInterval = int(rng, 5);
        if (chance(rng, 0.2)) p.properties.payloadFormatIndicator = true;
        if (chance(rng, 0.2)) p.properties.responseTopic = 'fuzz/reply';
        if (chance(rng, 0.2)) p.properties.correlationData = bytes(rng, 8);
        if (chance(rng, 0.2)) p.properties.contentType = 'application/octet-stream';
        const up = userProps(rng);
        if (up) p.properties.userProperties = up;
      }
      return p;
    }
    case 3:
    case 4: {
      const n = 1 + int(rng, 4);
      const subscriptions = Array.from({ length: n }, () => {
        const s: mqttPacket.ISubscription = { topic: pick(rng, FILTERS), qos: int(rng, 3) as 0 | 1 | 2 };
        if (v === 5) {
          s.nl = chance(rng, 0.2);
          s.rap = chance(rng, 0.2);
          s.rh = int(rng, 3) as 0 | 1 | 2;
        }
        return s;
      });
      const p: mqttPacket.ISubscribePacket = { cmd: 'subscribe', messageId: id, subscriptions };
      if (v === 5 && chance(rng, 0.3)) p.properties = { subscriptionIdentifier: 1 + int(rng, 1000) };
      return p;
    }
    case 5:
      return { cmd: 'unsubscribe', messageId: id, unsubscriptions: [pick(rng, FILTERS), pick(rng, FILTERS)].slice(0, 1 + int(rng, 2)) };
    case 6:
    case 7: {
      const cmd = pick(rng, ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const);
      const p = { cmd, messageId: int(rng, 4) === 0 ? id : 1 + int(rng, 10) } as mqttPacket.IPubackPacket;
      if (v === 5 && chance(rng, 0.3)) p.reasonCode = cmd === 'pubrel' || cmd === 'pubcomp' ? pick(rng, [0, 0x92]) : pick(rng, [0, 0x10, 0x80, 0x87]);
      return p as Packet;
    }
    case 8:
    case 9:
      return { cmd: 'pingreq' };
    case 10: {
      const p: mqttPacket.IDisconnectPacket = { cmd: 'disconnect' };
      if (v === 5 && chance(rng, 0.5)) {
        p.reasonCode = pick(rng, [0, 4]);
        if (chance(rng, 0.5)) p.properties = { sessionExpiryInterval: int(rng, 10) };
      }
      return p;
    }
    default:
      return v === 5 ? { cmd: 'auth', reasonCode: pick(rng, [0, 0x18, 0x19]), properties: { authenticationMethod: 'x' } } : validConnect(rng, v);
  }
}

function encode(p: Packet, v: V): Buffer {
  try {
    return mqttPacket.generate(p, { protocolVersion: v });
  } catch {
    return Buffer.from([0xc0, 0x00]);
  }
}

// ── mutations ─────────────────────────────────────────────────────────────────

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xc3, 0x28, 0x02, 0x30, 0x10];

function mutate(rng: Rng, buf: Buffer, other: Buffer): Buffer {
  let b = Buffer.from(buf);
  const rounds = 1 + int(rng, 3);
  for (let i = 0; i < rounds; i++) {
    const at = int(rng, b.length + 1);
    switch (int(rng, 8)) {
      case 0: // flip a bit
        if (b.length) b[at % b.length] ^= 1 << int(rng, 8);
        break;
      case 1: // overwrite with an interesting byte
        if (b.length) b[at % b.length] = pick(rng, INTERESTING);
        break;
      case 2: // insert bytes
        b = Buffer.concat([b.subarray(0, at), bytes(rng, 1 + int(rng, 4)), b.subarray(at)]);
        break;
      case 3: // delete bytes
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(rng, 4))]);
        break;
      case 4: // truncate
        b = b.subarray(0, at);
        break;
      case 5: // splice with another packet
        b = Buffer.concat([b.subarray(0, at), other.subarray(int(rng, other.length + 1))]);
        break;
      case 6: // mess with the remaining length
        if (b.length > 1) b[1] = pick(rng, [0x00, 0x01, 0x7f, 0xff, b[1] + 1, Math.max(0, b[1] - 1)]) & 0xff;
        break;
      default: // change the packet type / flags
        if (b.length) b[0] = int(rng, 256);
    }
  }
  return b;
}

// ── one fuzzing connection ────────────────────────────────────────────────────

interface FuzzStats {
  connections: number;
  wsConnections: number;
  bytesSent: number;
  bytesReceived: number;
  connectFailures: number;
}

interface Ports {
  tcp: number;
  /** A WebSocket listener (path /mqtt) to send part of the fuzz through, if any. */
  ws?: number;
}

/** What one fuzzing connection sends: usually a CONNECT, then valid, mutated and random packets. */
function fuzzStream(rng: Rng): Buffer {
  const v = pick(rng, [3, 4, 4, 5, 5, 5] as const);
  const script: Buffer[] = [];
  const r0 = rng();
  if (r0 < 0.7) script.push(encode(validConnect(rng, v), v));
  else if (r0 < 0.85) script.push(mutate(rng, encode(validConnect(rng, v), v), encode(validPacket(rng, v), v)));
  const n = 1 + int(rng, 12);
  for (let i = 0; i < n; i++) {
    const r = rng();
    if (r < 0.5) script.push(encode(validPacket(rng, v), v));
    else if (r < 0.9) script.push(mutate(rng, encode(validPacket(rng, v), v), encode(validPacket(rng, v), v)));
    else script.push(bytes(rng, 1 + int(rng, 64)));
  }
  if (chance(rng, 0.02)) return Buffer.from('GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n');
  return Buffer.concat(script);
}

/** Random pieces of `stream`: frames arrive split, or several in one piece. */
function* pieces(rng: Rng, stream: Buffer): Generator<Buffer> {
  let pos = 0;
  while (pos < stream.length) {
    const len = chance(rng, 0.5) ? stream.length - pos : 1 + int(rng, Math.max(1, stream.length - pos));
    yield stream.subarray(pos, pos + len);
    pos += len;
  }
}

async function fuzzTcp(port: number, rng: Rng, stats: FuzzStats): Promise<void> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => (stats.bytesReceived += d.length));
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  const connected = await within(Promise.race([new Promise<boolean>((r) => sock.once('connect', () => r(true))), closed.then(() => false)]), 2000, false);
  if (!connected) {
    stats.connectFailures++;
    sock.destroy();
    return;
  }
  stats.connections++;
  for (const piece of pieces(rng, fuzzStream(rng))) {
    if (sock.destroyed) break;
    sock.write(piece);
    stats.bytesSent += piece.length;
    if (chance(rng, 0.3)) await sleep(int(rng, 5));
  }
  const end = rng();
  if (end < 0.3) sock.end();
  else if (end < 0.5) sock.destroy();
  // linger a little (what the broker answers is read and dropped), then go
  await within(closed, 20 + int(rng, 300), undefined);
  sock.destroy();
  await closed;
}

/** The same over WebSocket: each piece is one binary ws message. */
async function fuzzWs(port: number, rng: Rng, stats: FuzzStats): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
  ws.on('error', () => {});
  ws.on('message', (d: Buffer) => (stats.bytesReceived += d.length));
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  const opened = await within(Promise.race([new Promise<boolean>((r) => ws.once('open', () => r(true))), closed.then(() => false)]), 2000, false);
  if (!opened) {
    stats.connectFailures++;
    ws.terminate();
    return;
  }
  stats.connections++;
  stats.wsConnections++;
  for (const piece of pieces(rng, fuzzStream(rng))) {
    if (ws.readyState !== WebSocket.OPEN) break;
    ws.send(piece, { binary: true });
    stats.bytesSent += piece.length;
    if (chance(rng, 0.3)) await sleep(int(rng, 5));
  }
  if (chance(rng, 0.4)) ws.close();
  await within(closed, 20 + int(rng, 300), undefined);
  ws.terminate();
  await closed;
}

/** `workers` concurrent loops of fuzzing connections until `ms` has passed. */
async function fuzz(ports: Ports, seed: number, workers: number, ms: number): Promise<FuzzStats> {
  const stats: FuzzStats = { connections: 0, wsConnections: 0, bytesSent: 0, bytesReceived: 0, connectFailures: 0 };
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const rng = mulberry32(seed + w * 0x9e3779b9);
      while (Date.now() < until) {
        if (ports.ws !== undefined && chance(rng, 0.15)) await fuzzWs(ports.ws, rng, stats);
        else await fuzzTcp(ports.tcp, rng, stats);
      }
    }),
  );
  return stats;
}

// ── memory ────────────────────────────────────────────────────────────────────

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const MB = 1024 * 1024;

// ── the tests ─────────────────────────────────────────────────────────────────

test("fuzz (in-process broker): random and mutated packets over many connections lose none of a bystander's QoS 1 messages", { timeout: 120_000 }, async (t) => {
  const seed = seedFromEnv('VIREO_FUZZ_SEED');
  const ms = Number(process.env.VIREO_FUZZ_MS ?? 10_000);
  const workers = 48;
  t.diagnostic(`fuzz seed ${seed} (replay: VIREO_FUZZ_SEED=${seed})`);
  console.log(`fuzz seed ${seed} (replay: VIREO_FUZZ_SEED=${seed})`);
  const log = captureLog('warn');
  const [tcpPort, wsListenPort] = [await freePort(), await freePort()];
  const tb = await startBroker({
    logger: log.logger,
    mqtt: { idleTimeout: 1000, maxPacketSize: 64 * 1024, sessionExpiryInterval: 5000 },
    listeners: [
      { type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port: tcpPort, maxConnections: 100_000 },
      { type: 'ws', name: 'ws:default', host: '127.0.0.1', port: wsListenPort, maxConnections: 100_000, path: '/mqtt' },
    ],
  });
  const wsPort = tb.broker.addresses().find((a) => a.type === 'ws')!.port;
  let bystander: Bystander | undefined;
  try {
    const heapBefore = heapAfterGc();
    bystander = await Bystander.start(tb.url, { protocolVersion: 5, everyMs: 5 });
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    let stats: FuzzStats;
    try {
      stats = await fuzz({ tcp: tb.port, ws: wsPort }, seed, workers, ms);
    } finally {
      clearInterval(sampler);
    }
    const report = await bystander.stop(10);
    const why = `seed=${seed}`;
    t.diagnostic(
      `${stats.connections} connections (${stats.wsConnections} over WebSocket), ${(stats.bytesSent / MB).toFixed(1)} MB sent, ${(stats.bytesReceived / MB).toFixed(1)} MB received, ` +
        `${log.find('Parse failed').length} Parse failed, bystander ${report.acked.length} acked / ${report.received.length} received, peak RSS ${(peakRss / MB).toFixed(0)} MB`,
    );
    assert.deepEqual(bystanderProblems(report, 200), [], `bystander (${why})`);
    // the fuzzer did its job: many connections, many of them rejected as malformed
    assert.ok(stats.connections >= 300, `only ${stats.connections} fuzz connections (${why})`);
    assert.ok(stats.wsConnections >= 30, `only ${stats.wsConnections} fuzz connections over WebSocket (${why})`);
    assert.equal(stats.connectFailures, 0, `the listeners refused connections (${why})`);
    const reasons = new Set(log.find('Parse failed').map((l) => String(l.reason)));
    assert.ok(reasons.size >= 5, `few distinct parse errors: ${[...reasons].join(' | ')} (${why})`);
    for (const l of log.find('Parse failed')) {
      assert.ok(typeof l.frame_data === 'string' && l.frame_data.length <= 512, `frame_data bounded (${why})`);
      assert.equal(typeof l.peer, 'string');
    }
    // nothing in the broker threw (a contained bug is logged at error level)
    const errors = log.lines.filter((l) => l.level >= 50);
    assert.deepEqual(errors.slice(0, 3), [], `error lines in the broker log (${why})`);
    // every fuzz connection is gone from the broker; the node still accepts clients
    await waitFor(() => tb.broker.listenerStats().every((l) => l.connections === 0), 'all connections closed', 20_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(tb.broker.listenerStats().map((l) => [l.name, l.connections]))}, channels ${tb.broker.connectionCount} (${why})`);
    });
    assert.equal(tb.broker.connectionCount, 0, `channels left over (${why})`);
    const late = await connect(tb.url, { protocolVersion: 4 });
    await endAll(late);
    // memory: bounded while fuzzing, and back near where it started once it is over
    assert.ok(peakRss < 1024 * MB, `peak RSS ${(peakRss / MB).toFixed(0)} MB (${why})`);
    await sleep(50);
    const heapGrowth = heapAfterGc() - heapBefore;
    t.diagnostic(`heap growth after GC ${(heapGrowth / MB).toFixed(1)} MB (broker sessions left: ${tb.broker.sessionCount})`);
    assert.ok(heapGrowth < 100 * MB, `heap grew by ${(heapGrowth / MB).toFixed(0)} MB (${why})`);
  } finally {
    await bystander?.destroy();
    await tb.close();
  }
});

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

test('fuzz (vireo process): the node survives, stays bounded in memory and stops cleanly', { timeout: 120_000 }, async (t) => {
  const seed = seedFromEnv('VIREO_FUZZ_SEED');
  t.diagnostic(`fuzz seed ${seed} (replay: VIREO_FUZZ_SEED=${seed})`);
  console.log(`fuzz (process) seed ${seed} (replay: VIREO_FUZZ_SEED=${seed})`);
  const port = await freePort();
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_LOG__LEVEL: 'warning',
      VIREO_NODE__NAME: 'vireo@fuzz',
      VIREO_NODE__COOKIE: 'fuzz-test-cluster-cookie',
    },
  });
  let bystander: Bystander | undefined;
  try {
    const url = `mqtt://127.0.0.1:${port}`;
    await waitFor(() => vireo.child.exitCode === null && vireo.stdout().length >= 0, 'spawned', 1000);
    // ready when a client gets in (the log is at warning: no 'started' line); a start takes
    // tens of seconds on a loaded machine (MIN_PROCESS_WAIT_MS)
    const until = Date.now() + MIN_PROCESS_WAIT_MS;
    for (;;) {
      try {
        const probe = await connect(url, { protocolVersion: 4 }, 5000);
        await endAll(probe);
        break;
      } catch (err) {
        if (Date.now() > until || vireo.child.exitCode !== null) throw new Error(`vireo did not start: ${String(err)}\n${vireo.stderr()}`);
        await sleep(100);
      }
    }
    const pid = vireo.child.pid!;
    const rssStart = rssOf(pid);
    bystander = await Bystander.start(url, { protocolVersion: 4, everyMs: 5 });
    let peakRss = 0;
    const sampler = setInterval(() => {
      if (vireo.child.exitCode === null) peakRss = Math.max(peakRss, rssOf(pid));
    }, 200);
    let stats: FuzzStats;
    try {
      stats = await fuzz({ tcp: port }, seed ^ 0x5eed, 32, Number(process.env.VIREO_FUZZ_PROCESS_MS ?? 5000));
    } finally {
      clearInterval(sampler);
    }
    const why = `seed=${seed}`;
    assert.equal(vireo.child.exitCode, null, `vireo exited during the fuzz (${why}):\n${vireo.stderr()}`);
    const report = await bystander.stop(10);
    t.diagnostic(`${stats.connections} connections; vireo RSS ${(rssStart / MB).toFixed(0)} MB at start, peak ${(peakRss / MB).toFixed(0)} MB`);
    assert.deepEqual(bystanderProblems(report, 100), [], `bystander (${why})`);
    assert.ok(stats.connections >= 150, `only ${stats.connections} fuzz connections (${why})`);
    assert.ok(peakRss < rssStart + 400 * MB, `vireo RSS peaked at ${(peakRss / MB).toFixed(0)} MB from ${(rssStart / MB).toFixed(0)} MB (${why})`);
    const logs = vireo.logs();
    assert.ok(
      logs.some((l) => l.msg === 'Parse failed'),
      'Parse failed lines in the process log',
    );
    const errors = logs.filter((l) => ['error', 'fatal', 'critical'].includes(String(l.level)) || Number(l.level) >= 50);
    assert.deepEqual(errors.slice(0, 3), [], `error lines in vireo's log (${why})`);
    vireo.kill('SIGTERM');
    const exit = await vireo.waitExit(10_000);
    assert.equal(exit.code, 0, `exit after SIGTERM (${why}): ${vireo.stderr()}`);
  } finally {
    await bystander?.destroy();
    if (vireo.child.exitCode === null && vireo.child.signalCode === null) {
      vireo.kill('SIGKILL');
      await vireo.waitExit(5000).catch(() => undefined);
    }
  }
});

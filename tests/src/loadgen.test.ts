/**
 * The in-repository load generator (scripts/loadgen), used by `npm run bench` when the neutral
 * one is absent: its accounting against real brokers (Mosquitto and Vireo), and its histogram,
 * sequence tracking and decoder on their own. Figures are never asserted, only counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, startBroker } from './harness.js';
import { startMosquitto } from './mosquitto-server.js';

const LOADGEN = fileURLToPath(new URL('../../scripts/loadgen/cli.mjs', import.meta.url));
const mod = (name: string) => import(pathToFileURL(fileURLToPath(new URL(`../../scripts/loadgen/${name}`, import.meta.url))).href);

interface Summary {
  samples: number;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}
interface Result {
  error?: string;
  sent: number;
  acked: number | null;
  received: number;
  receivedInWindow: number;
  expected: number;
  notDelivered: number;
  lost: number | null;
  duplicates: number;
  reordered: number;
  drain: string;
  latencyMs: Summary;
  warmupLatencyMs: Summary | null;
  keptUp: boolean | null;
  mqtt: string;
  connected: number;
  failed: number;
  handshakeMs: Summary;
  broker: { cpuPct: number | null } | null;
  generatorCpuPct: number | null;
}

function loadgen(args: string[]): Promise<{ code: number; result: Result; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [LOADGEN, ...args, '--quiet'], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve({ code, result: JSON.parse(line) as Result, stderr });
      } catch {
        reject(new Error(`no JSON from loadgen (exit ${code}): ${stdout}\n${stderr}`));
      }
    });
  });
}

test('histogram percentiles, sequence tracking and split frames', async () => {
  const { Hist } = await mod('hist.mjs');
  const h = new Hist();
  for (let i = 1; i <= 1000; i++) h.recordMs(i / 10); // 0.1 .. 100 ms
  const s = h.summaryMs();
  assert.equal(s.samples, 1000);
  assert.ok(Math.abs(s.p50 - 50) / 50 < 0.01, `p50 ${s.p50}`);
  assert.ok(Math.abs(s.p99 - 99) / 99 < 0.01, `p99 ${s.p99}`);
  assert.equal(s.max, 100);
  const merged = new Hist().merge(h.toJSON()).merge(h.toJSON());
  assert.equal(merged.summaryMs().samples, 2000);
  assert.equal(merged.summaryMs().p50, s.p50);

  const { SeqTracker, topicMatches } = await mod('tracker.mjs');
  const t = new SeqTracker();
  for (const seq of [0, 1, 3, 2, 3, 1000]) t.mark(seq);
  assert.equal(t.unique, 5);
  assert.equal(t.duplicates, 1); // the second 3
  assert.equal(t.reordered, 1); // 2 after 3
  assert.equal(t.missing(1001, null), 1001 - 5);
  assert.equal(t.missing(1001, new Set([4, 5])), 1001 - 5 - 2); // not acknowledged: not promised
  assert.ok(topicMatches('bench/#', 'bench/7') && topicMatches('bench/+', 'bench/7') && !topicMatches('bench/+', 'bench/7/x'));
  assert.ok(!topicMatches('#', '$SYS/x'));

  const { Decoder } = await mod('codec.mjs');
  // a PUBLISH QoS 1 (topic a, id 7, payload 200 bytes: a 2-byte Remaining Length) and a PUBACK, fed byte by byte
  const body = Buffer.concat([Buffer.from([0, 1, 0x61, 0, 7]), Buffer.alloc(200, 1)]);
  const stream = Buffer.concat([Buffer.from([0x32, 0x80 | (body.length & 0x7f), body.length >> 7]), body, Buffer.from([0x40, 2, 0, 9])]);
  const seen: [number, number][] = [];
  const d = new Decoder((type: number, _f: number, _b: Buffer, start: number, end: number) => seen.push([type, end - start]));
  for (let i = 0; i < stream.length; i++) d.feed(stream.subarray(i, i + 1));
  assert.deepEqual(seen, [
    [3, body.length],
    [4, 2],
  ]);
});

test('Mosquitto: pairs at QoS 2 over MQTT 5 in two workers, and conn: every message counted once', async () => {
  const m = await startMosquitto(await freePort());
  try {
    const { code, result: r } = await loadgen(['pairs', '-p', String(m.port), '-n', '6', '-q', '2', '-V', '5', '-r', '200', '-d', '1.5', '--workers', '2']);
    assert.equal(code, 0, JSON.stringify(r));
    assert.equal(r.mqtt, '5.0');
    assert.ok(r.sent >= 6 * 200, `sent ${r.sent}`);
    assert.equal(r.acked, r.sent);
    assert.equal(r.received, r.sent);
    assert.equal(r.expected, r.sent);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicates, 0);
    assert.equal(r.latencyMs.samples, r.receivedInWindow);

    const c = await loadgen(['conn', '-p', String(m.port), '-c', '60', '--hold', '0.5', '--concurrency', '20']);
    assert.equal(c.code, 0, JSON.stringify(c.result));
    assert.equal(c.result.connected, 60);
    assert.equal(c.result.failed, 0);
    assert.equal(c.result.handshakeMs.samples, 60);
  } finally {
    await m.stop();
    rmSync(m.dir, { recursive: true, force: true });
  }
});

test('Mosquitto with a tiny queue: acknowledged QoS 1 messages it drops are counted as lost (exit 3)', async () => {
  // 5 queued and 1 in flight per subscriber: a flood into one subscriber overflows it, and
  // Mosquitto drops the overflow after it has acknowledged the publishes
  const m = await startMosquitto(await freePort(), undefined, ['max_queued_messages 5', 'max_inflight_messages 1']);
  try {
    const { code, result: r } = await loadgen(['fanin', '-p', String(m.port), '--pubs', '20', '--subs', '1', '-q', '1', '-d', '1', '--max-pending', '0', '-s', '16']);
    assert.equal(code, 3, JSON.stringify(r));
    assert.equal(r.acked, r.sent);
    assert.ok(r.lost !== null && r.lost > 0, `lost ${r.lost}`);
    assert.equal(r.notDelivered, r.lost);
    // every expected message is either received (once) or lost
    assert.equal(r.expected, r.sent);
    assert.equal(r.received - r.duplicates + r.lost, r.expected);
  } finally {
    await m.stop();
    rmSync(m.dir, { recursive: true, force: true });
  }
});

test('Vireo: fanin with warm-up, fanout, and publishers and subscribers on different listeners', async () => {
  const p1 = await freePort();
  const p2 = await freePort();
  const b = await startBroker({
    listeners: [
      { type: 'tcp', name: 'tcp:a', host: '127.0.0.1', port: p1, maxConnections: 1000 },
      { type: 'tcp', name: 'tcp:b', host: '127.0.0.1', port: p2, maxConnections: 1000 },
    ],
  });
  try {
    // 200 msg/s: a loaded test machine must not stall the node long enough to overflow its
    // default 1 000-message queue (a real loss, which this test is not about)
    const fanin = await loadgen(['fanin', '-p', String(p1), '--pubs', '20', '-r', '10', '-q', '1', '-d', '2', '--warmup', '1', '--pid', String(process.pid)]);
    assert.equal(fanin.code, 0, JSON.stringify(fanin.result));
    const r = fanin.result;
    assert.equal(r.lost, 0);
    assert.equal(r.received, r.acked);
    assert.ok(r.warmupLatencyMs && r.warmupLatencyMs.samples > 0, 'deliveries of the first second are in warmupLatencyMs');
    assert.ok(r.latencyMs.samples > 0);
    assert.equal(r.latencyMs.samples + r.warmupLatencyMs.samples, r.receivedInWindow);
    assert.ok(r.broker && r.broker.cpuPct !== null, 'the broker CPU is sampled from /proc');

    const fanout = await loadgen(['fanout', '-p', String(p1), '--subs', '20', '-r', '50', '-q', '0', '-d', '1']);
    assert.equal(fanout.code, 0, JSON.stringify(fanout.result));
    assert.equal(fanout.result.expected, fanout.result.sent * 20);
    assert.equal(fanout.result.received, fanout.result.expected);

    // -p points nowhere: every client must use --pub-ports / --sub-ports
    const closed = await freePort();
    const cross = await loadgen(['pairs', '-p', String(closed), '--pub-ports', String(p1), '--sub-ports', String(p2), '-n', '4', '-q', '1', '-d', '1']);
    assert.equal(cross.code, 0, JSON.stringify(cross.result));
    assert.ok(cross.result.sent > 0);
    assert.equal(cross.result.lost, 0);
    assert.equal(cross.result.received, cross.result.sent);
  } finally {
    await b.close();
  }
});

test('loadgen: bad options are a usage error (exit 2) naming the option', async () => {
  const res = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [LOADGEN, 'pairs', '-q', '3'], (err, _out, stderr) => resolve({ code: err && typeof err.code === 'number' ? err.code : 0, stderr }));
  });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /-q: expected an integer >= 0 <= 2/);
});

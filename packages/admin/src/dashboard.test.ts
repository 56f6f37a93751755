/** Units of the dashboard's API: the zip writer, merging nodes' series, passwords, tokens, public paths. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ZipWriter, readZip } from './zip.js';
import { combine, mergeSeries, type Sample } from './monitor.js';
import { DashboardUsers, passwordProblem } from './dashboard-users.js';
import { isDashboardPublic } from './dashboard-auth.js';

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

test('zip: entries written as streams read back whole, by our reader and by unzip -t', async () => {
  const out = new PassThrough();
  const bufs: Buffer[] = [];
  out.on('data', (b: Buffer) => bufs.push(b));
  const done = new Promise((r) => out.on('end', r));
  const zip = new ZipWriter(out);
  const big = 'x'.repeat(300_000) + 'needle';
  await zip.add('a@host-t.log', chunks('{"line":1}\n', '{"line":2}\n'));
  await zip.add('b@host-t.log', chunks());
  await zip.add('c@host-t.log', chunks(big.slice(0, 100_000), big.slice(100_000)));
  await zip.finish();
  await done;
  const buf = Buffer.concat(bufs);
  const files = readZip(buf);
  assert.deepEqual([...files.keys()], ['a@host-t.log', 'b@host-t.log', 'c@host-t.log']);
  assert.equal(files.get('a@host-t.log')!.toString(), '{"line":1}\n{"line":2}\n');
  assert.equal(files.get('b@host-t.log')!.length, 0);
  assert.equal(files.get('c@host-t.log')!.toString(), big);
  // an independent reader (Info-ZIP's unzip; .ci/run installs it) checks the CRCs and sizes
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-zip-'));
  try {
    writeFileSync(path.join(dir, 't.zip'), buf);
    assert.match(execFileSync('unzip', ['-t', path.join(dir, 't.zip')], { encoding: 'utf8' }), /No errors detected/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const sample = (t: number, over: Partial<Sample>): Sample => ({
  time_stamp: t,
  connections: 0,
  live_connections: 0,
  subscriptions: 0,
  shared_subscriptions: 0,
  topics: 0,
  retained_msg_count: 0,
  received: 0,
  sent: 0,
  dropped: 0,
  event_loop_lag_ms: 0,
  memory_used: 0,
  ...over,
});

test('series: nodes summed per time stamp, retained and lag take the largest, oldest first', () => {
  const a = [sample(1000, { connections: 2, received: 10, retained_msg_count: 5, event_loop_lag_ms: 3 }), sample(2000, { connections: 3, received: 4 })];
  const b = [sample(2000, { connections: 1, received: 6, retained_msg_count: 5, event_loop_lag_ms: 9 }), sample(3000, { connections: 1 })];
  // B's newest sample (3000) waits until A has one too: a sum of one node would look like a drop
  const m = mergeSeries([a, b, []]);
  assert.deepEqual(
    m.map((s) => [s.time_stamp, s.connections, s.received]),
    [
      [1000, 2, 10],
      [2000, 4, 10],
    ],
  );
  assert.equal(mergeSeries([a, [...b, sample(4000, {})], [...a, sample(3000, {})]]).at(-1)!.time_stamp, 2000);
  assert.deepEqual(mergeSeries([[], []]), []);
  assert.equal(
    combine([
      { retained_msg_count: 5, event_loop_lag_ms: 2 },
      { retained_msg_count: 5, event_loop_lag_ms: 7 },
    ]).retained_msg_count,
    5,
  );
  assert.equal(m[1]!.event_loop_lag_ms, 9);
});

test('passwords: 8 to 64 characters of two kinds, not the name nor a well-known default', () => {
  assert.match(passwordProblem('admin', 'short1!') ?? '', /8 to 64/);
  assert.match(passwordProblem('admin', 'lettersonly') ?? '', /two of/);
  assert.match(passwordProblem('admin', 'public') ?? '', /8 to 64/);
  assert.match(passwordProblem('changeme', 'Password') ?? '', /two of/);
  assert.match(passwordProblem('u1', 'admin123') ?? '', /easy to guess/);
  assert.equal(passwordProblem('admin', 'Adm1n-secret'), undefined);
});

test('tokens: only for the right password, until expiry or sign-out by their user; five failures lock the name', async () => {
  const users = new DashboardUsers(200);
  await users.add('ann', 'Ann-pass-1', 'viewer');
  assert.equal(await users.login('ann', 'wrong-pass-1'), 'bad');
  assert.equal(await users.login('nobody', 'Ann-pass-1'), 'bad');
  const ok = await users.login('ann', 'Ann-pass-1');
  assert.ok(typeof ok === 'object');
  assert.deepEqual(users.verify(`Bearer ${ok.token}`), { username: 'ann', role: 'viewer' });
  assert.equal(users.verify(`Basic ${ok.token}`), undefined);
  // nodes keep the digest, never the token
  assert.ok(users.tokenRecords().every(([id]) => id !== ok.token));
  assert.equal(users.logout('bob', ok.token), undefined, "someone else's name does not sign ann out");
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(users.verify(`Bearer ${ok.token}`), undefined, 'expired');
  users.sweep();
  assert.equal(users.tokenRecords().length, 0);
  // five failures lock the name
  for (let i = 0; i < 5; i++) await users.login('ann', `Wrong-${i}-x`);
  assert.equal(await users.login('ann', 'Ann-pass-1'), 'locked');
});

test('public paths: the page and sign-in only', () => {
  for (const [m, p] of [
    ['GET', '/'],
    ['GET', '/assets/main-ABC.js'],
    ['GET', '/favicon.svg'],
    ['POST', '/api/v5/login'],
  ] as const)
    assert.ok(isDashboardPublic(m, p), `${m} ${p}`);
  for (const [m, p] of [
    ['POST', '/'],
    ['GET', '/api/v5/login'],
    ['POST', '/api/v5/logout'],
    ['GET', '/api/v5/users'],
    ['DELETE', '/assets/x'],
  ] as const)
    assert.ok(!isDashboardPublic(m, p), `${m} ${p}`);
});

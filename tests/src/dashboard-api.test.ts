/**
 * The dashboard's API on real nodes: sign-in (`/login`, `/logout`, tokens that expire and
 * hold on every node), dashboard users and their roles (`/users`), bootstrapping without a
 * default password, the time series (`/monitor`, `/monitor_current`) and the trace download.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readZip } from '@vireo/admin';
import { connect, endAll, collect } from './harness.js';
import { killAllVireo, spawnVireo } from './vireo-process.js';
import { apiNodeEnv } from './api-node.js';
import { ADMIN_PASSWORD, API_KEY, call, eventually, signIn, startDashCluster, type DashNode } from './dashboard-nodes.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-dashboard-api-'));
const keyFile = join(dir, 'keys');
writeFileSync(keyFile, 'ops:dash-key-secret\n');
const nodes: DashNode[] = [];
/** the key apiNodeEnv writes */
const API_KEY_OPS = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;

after(() => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  rmSync(dir, { recursive: true, force: true });
});

test(
  'no default password: nobody signs in; a weak one fails start-up naming the key; bootstrap file; tokens expire; a restart keeps users and the time series',
  { timeout: 120_000 },
  async () => {
    // a weak password is refused at start, with the key's path
    const weak = await apiNodeEnv(mkdtempSync(join(dir, 'weak-')));
    const bad = spawnVireo({ env: { ...weak.env, VIREO_DASHBOARD__DEFAULT_PASSWORD: 'public' } });
    const exit = await bad.waitExit(30_000);
    assert.notEqual(exit.code, 0);
    assert.match(bad.stdout() + bad.stderr(), /dashboard\.default_password/);

    // no default password; a viewer from the bootstrap file; tokens last 2 s
    const usersFile = join(dir, 'dash-users');
    writeFileSync(usersFile, '# dashboard users\nwatch:W4tch-only:viewer\n');
    const n = await apiNodeEnv(mkdtempSync(join(dir, 'boot-')));
    const dataDir = mkdtempSync(join(dir, 'data-'));
    const env = {
      ...n.env,
      VIREO_NODE__DATA_DIR: dataDir,
      VIREO_DASHBOARD__BOOTSTRAP_USERS_FILE: usersFile,
      VIREO_DASHBOARD__TOKEN_EXPIRED_TIME: '2s',
      VIREO_DASHBOARD__SAMPLE_INTERVAL: '1s',
    };
    let proc = spawnVireo({ env });
    await proc.waitForLog('started', 30_000);
    const base = `http://127.0.0.1:${n.httpPort}`;
    try {
      for (const password of ['public', 'admin', '']) {
        const r = await call<{ code: string }>(base, 'POST', '/api/v5/login', undefined, { username: 'admin', password });
        assert.equal(r.status, password === '' ? 400 : 401, `admin/${password}`);
      }
      // the page is served without credentials, the API is not
      const page = await fetch(base + '/');
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<div id="app">/);
      assert.equal((await call(base, 'GET', '/api/v5/nodes')).status, 401);

      const token = await signIn(base, 'watch', 'W4tch-only');
      assert.equal((await call(base, 'GET', '/api/v5/nodes', token)).status, 200);
      assert.equal((await call(base, 'DELETE', '/api/v5/clients/someone', token)).status, 403, 'a viewer may not kick');
      // expired: refused, and without a Basic challenge (a browser would pop up its password dialog)
      const expired = await eventually(
        async () => {
          const r = await call<{ code: string }>(base, 'GET', '/api/v5/nodes', token);
          return r.status === 401 && r;
        },
        'the token to expire',
        10_000,
      );
      assert.equal(expired.json.code, 'TOKEN_TIME_OUT');
      assert.match(expired.headers.get('www-authenticate') ?? '', /^Bearer/);

      // after a restart on the same data dir: the user is kept (not made again), and so is the time series
      const before = await call<{ time_stamp: number }[]>(base, 'GET', '/api/v5/monitor?latest=3600', API_KEY_OPS);
      assert.ok(before.json.length > 0, 'samples before the restart');
      const last = before.json[before.json.length - 1]!.time_stamp;
      proc.kill('SIGTERM');
      await proc.waitExit(30_000);
      proc = spawnVireo({ env });
      await proc.waitForLog('started', 30_000);
      assert.equal(proc.logs().filter((l) => l.msg === 'Dashboard user made at start').length, 0, 'the bootstrap user exists already');
      await signIn(base, 'watch', 'W4tch-only');
      const after = await call<{ time_stamp: number }[]>(base, 'GET', '/api/v5/monitor?latest=3600', API_KEY_OPS);
      assert.ok(
        after.json.some((x) => x.time_stamp === last),
        'the samples from before the restart are still there',
      );
    } finally {
      proc.kill('SIGKILL');
    }
  },
);

test('sign-in and dashboard users hold on every node; roles; sign-out; lock after failures, per name and per address', { timeout: 120_000 }, async () => {
  nodes.push(...(await startDashCluster(2, 'dashapi', keyFile)));
  const [a, b] = nodes as [DashNode, DashNode];

  const login = await call<{ token: string; role: string; version: string; license: { edition: string } }>(a.base, 'POST', '/api/v5/login', undefined, {
    username: 'admin',
    password: ADMIN_PASSWORD,
  });
  assert.equal(login.status, 200);
  assert.equal(login.json.role, 'administrator');
  assert.equal(login.json.license.edition, 'opensource');
  const admin = `Bearer ${login.json.token}`;
  // a token from A opens B
  const listed = await call<{ node: string }[]>(b.base, 'GET', '/api/v5/nodes', admin);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.json.map((x) => x.node).sort(), [a.name, b.name].sort());
  assert.equal((await call(b.base, 'GET', '/api/v5/nodes', 'Bearer not-a-token')).status, 401);

  // users: a weak password is refused; a viewer made on A signs in on B
  const weak = await call<{ code: string; message: string }>(a.base, 'POST', '/api/v5/users', admin, { username: 'eve', password: 'abcdefgh', role: 'viewer' });
  assert.equal(weak.status, 400);
  assert.match(weak.json.message, /two of/);
  const made = await call<{ username: string; role: string }>(a.base, 'POST', '/api/v5/users', admin, {
    username: 'eve',
    password: 'Ev3-watches',
    role: 'viewer',
    description: 'on call',
  });
  assert.equal(made.status, 200, JSON.stringify(made.json));
  assert.deepEqual(made.json, { username: 'eve', role: 'viewer', description: 'on call', backend: 'local' });
  const users = await call<{ username: string }[]>(b.base, 'GET', '/api/v5/users', API_KEY);
  assert.deepEqual(users.json.map((u) => u.username).sort(), ['admin', 'eve']);
  const eve = await signIn(b.base, 'eve', 'Ev3-watches');

  // the viewer reads, but changes nothing except its own password
  assert.equal((await call(b.base, 'GET', '/api/v5/clients', eve)).status, 200);
  assert.equal((await call(b.base, 'DELETE', '/api/v5/clients/anyone', eve)).status, 403);
  assert.equal((await call(a.base, 'POST', '/api/v5/users', eve, { username: 'mallory', password: 'M4llory-x' })).status, 403);
  assert.equal((await call(a.base, 'POST', '/api/v5/users/admin/change_pwd', eve, { old_pwd: ADMIN_PASSWORD, new_pwd: 'Hijack3d!' })).status, 403);
  assert.equal((await call(a.base, 'POST', '/api/v5/users/eve/change_pwd', eve, { old_pwd: 'wrong-one-1', new_pwd: 'N3w-eve-pass' })).status, 400);
  assert.equal((await call(a.base, 'POST', '/api/v5/users/eve/change_pwd', eve, { old_pwd: 'Ev3-watches', new_pwd: 'N3w-eve-pass' })).status, 204);
  assert.equal((await call(b.base, 'POST', '/api/v5/login', undefined, { username: 'eve', password: 'Ev3-watches' })).status, 401, 'the old password no longer works on B');
  await signIn(b.base, 'eve', 'N3w-eve-pass');

  // made an administrator on B: eve's token (from B) may now change things on A
  assert.equal((await call(b.base, 'PUT', '/api/v5/users/eve', admin, { role: 'administrator' })).status, 200);
  assert.equal((await call(a.base, 'DELETE', '/api/v5/clients/anyone', eve)).status, 404, 'allowed now (no such client)');
  // the last administrator cannot go
  assert.equal((await call(a.base, 'DELETE', '/api/v5/users/eve', admin)).status, 204);
  const last = await call<{ code: string }>(b.base, 'DELETE', '/api/v5/users/admin', admin);
  assert.equal(last.status, 400);
  assert.equal(last.json.code, 'NOT_ALLOWED');
  assert.equal((await call(a.base, 'GET', '/api/v5/nodes', eve)).status, 401, "a deleted user's token stops working");

  // sign-out on B ends the token on A too
  assert.equal((await call(b.base, 'POST', '/api/v5/logout', admin, { username: 'admin' })).status, 204);
  assert.equal((await call(a.base, 'GET', '/api/v5/nodes', admin)).status, 401);

  // five wrong passwords lock the name for a while, even with the right one after
  for (let i = 0; i < 5; i++) assert.equal((await call(a.base, 'POST', '/api/v5/login', undefined, { username: 'admin', password: `Wrong-${i}-pass` })).status, 401);
  const locked = await call<{ code: string }>(a.base, 'POST', '/api/v5/login', undefined, { username: 'admin', password: ADMIN_PASSWORD });
  assert.equal(locked.json.code, 'LOGIN_LOCKED');
  await signIn(b.base, 'admin', ADMIN_PASSWORD); // per node: B still lets admin in

  // and per address, whatever the name: 10 failures a minute, then 429 even for a right password
  let throttled: Awaited<ReturnType<typeof call>> | undefined;
  for (let i = 0; i < 10 && !throttled; i++) {
    const r = await call(a.base, 'POST', '/api/v5/login', undefined, { username: `guess${i}`, password: 'Guess-1234' });
    if (r.status === 429) throttled = r;
  }
  assert.ok(throttled, 'throttled within 10 more failures');
  assert.ok(Number(throttled.headers.get('retry-after')) > 0);
  assert.equal((await call(a.base, 'POST', '/api/v5/login', undefined, { username: 'admin', password: ADMIN_PASSWORD })).status, 429);
});

interface Sample {
  time_stamp: number;
  connections: number;
  received: number;
  sent: number;
  dropped: number;
  event_loop_lag_ms: number;
}

test('time series per node and for the cluster; trace download finds the message', { timeout: 120_000 }, async () => {
  if (nodes.length < 2) nodes.push(...(await startDashCluster(2, 'dashapi', keyFile)));
  const [a, b] = nodes as [DashNode, DashNode];
  const sub = await connect(b.url, { clientId: 'mon-sub', protocolVersion: 5 });
  const pub = await connect(a.url, { clientId: 'mon-pub', protocolVersion: 5 });
  try {
    await sub.subscribeAsync('mon/#', { qos: 1 });
    // the trace starts on every node; each node writes its own file
    const started = await call(a.base, 'POST', '/api/v5/trace', API_KEY, { name: 'mon', type: 'topic', topic: 'mon/#' });
    assert.equal(started.status, 200, JSON.stringify(started.json));
    // until the route reaches A, a publish there has no subscriber: publish until B's client gets one
    const got = collect(sub, 1, 15_000);
    const probe = setInterval(() => pub.publish('mon/probe', 'probe', { qos: 1 }), 200);
    await got.finally(() => clearInterval(probe));
    for (let i = 0; i < 20; i++) await pub.publishAsync('mon/x', `needle-${i}`, { qos: 1 });

    // A received them: its own series, and the cluster's, count them within a few samples
    const perA = await eventually(async () => {
      const r = await call<Sample[]>(b.base, 'GET', `/api/v5/monitor/nodes/${encodeURIComponent(a.name)}?latest=60`, API_KEY);
      return r.json.reduce((n, s) => n + s.received, 0) >= 21 && r.json;
    }, "A's samples to count the messages");
    assert.ok(
      perA.every((s, i) => i === 0 || s.time_stamp > perA[i - 1]!.time_stamp),
      'oldest first',
    );
    assert.ok(
      perA.every((s) => s.time_stamp % 1000 === 0),
      'on multiples of the interval',
    );
    const cluster = await eventually(async () => {
      const r = await call<Sample[]>(a.base, 'GET', '/api/v5/monitor?latest=60', API_KEY);
      const last = r.json[r.json.length - 1];
      return last && last.connections === 2 && r.json.reduce((n, s) => n + s.sent, 0) >= 21 && r.json;
    }, 'the cluster series to show both clients and the messages sent');
    assert.ok(cluster.length >= 2);

    const current = await call<{ connections: number; nodes: number; received_msg_rate: number; event_loop_lag_ms: number }>(b.base, 'GET', '/api/v5/monitor_current', API_KEY);
    assert.equal(current.json.connections, 2);
    assert.equal(current.json.nodes, 2);
    assert.equal(typeof current.json.event_loop_lag_ms, 'number');
    const one = await call<{ connections: number; node_uptime: number }>(b.base, 'GET', `/api/v5/monitor_current/nodes/${encodeURIComponent(a.name)}`, API_KEY);
    assert.equal(one.json.connections, 1);
    assert.ok(one.json.node_uptime >= 1);
    assert.equal((await call(a.base, 'GET', '/api/v5/monitor/nodes/nobody@nowhere', API_KEY)).status, 404);
    assert.equal((await call(a.base, 'GET', '/api/v5/monitor?latest=60')).status, 401, 'the series needs credentials');

    // download: a zip with each node's file; the publisher's node traced the message
    const res = await fetch(`${b.base}/api/v5/trace/mon/download`, { headers: { authorization: API_KEY } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-zip');
    const files = readZip(Buffer.from(await res.arrayBuffer()));
    assert.deepEqual([...files.keys()].sort(), [`${a.name}-mon.log`, `${b.name}-mon.log`].sort());
    assert.match(files.get(`${a.name}-mon.log`)!.toString('utf8'), /needle-19/);
    const onlyA = await fetch(`${b.base}/api/v5/trace/mon/download?node=${encodeURIComponent(a.name)}`, { headers: { authorization: API_KEY } });
    assert.deepEqual([...readZip(Buffer.from(await onlyA.arrayBuffer())).keys()], [`${a.name}-mon.log`]);
    const piece = await call<{ items: string; meta: { position: number } }>(b.base, 'GET', `/api/v5/trace/mon/log?node=${encodeURIComponent(a.name)}&bytes=100000`, API_KEY);
    assert.match(piece.json.items, /needle-19/);
    assert.equal((await call(b.base, 'GET', '/api/v5/trace/nope/download', API_KEY)).status, 404);
  } finally {
    await endAll(sub, pub);
  }
});

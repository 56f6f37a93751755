/**
 * Authentication (built-in users), bans and API keys on a real node, driven by `vireo ctl`
 * subprocesses, real HTTP and MQTT.js; all of it must survive kill -9 (issue 4).
 */
import { test } from 'node:test';
import { pbkdf2Sync } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, waitFor } from './harness.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { connackCode, ctl } from './ctl-run.js';
import { apiNodeEnv, metric } from './api-node.js';

const T = { timeout: 120_000 };

test('built-in users, bans and API keys: CONNACK codes, kicks, ctl, metrics; all survive kill -9', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-sec-'));
  const { mqttPort, httpPort, env: base } = await apiNodeEnv(dir);
  const env = {
    ...base,
    VIREO_NODE__DATA_DIR: path.join(dir, 'data'),
    VIREO_AUTHENTICATION: '[{mechanism: password_based, backend: built_in_database}]',
  };
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  let vireo: VireoProcess | undefined;
  let dev: MqttClient | undefined;
  try {
    vireo = spawnVireo({ env });
    await vireo.waitForLog('started', 30_000);

    const api = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/api/v5${p}`, {
        method,
        headers: { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };
    const ok = async (args: string[], stdin?: string) => {
      const r = await ctl(env, args, stdin);
      assert.equal(r.code, 0, `ctl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    assert.match(await ok(['users', 'add', 'alice', 'pw-1']), /added user alice/);
    assert.match(await ok(['users', 'add', 'root', '--superuser'], 'root-pw\n'), /added user root \(superuser\)/);
    const dup = await api('POST', '/authentication/password_based:built_in_database/users', { user_id: 'alice', password: 'x' });
    assert.deepEqual([dup.status, dup.body.code], [409, 'ALREADY_EXISTS']);
    // the authenticator id as EMQX clients may send it, URL-encoded; another id is not there
    assert.equal(((await api('GET', '/authentication/password_based%3Abuilt_in_database/users')).body.meta as { count: number }).count, 2);
    assert.equal((await api('GET', '/authentication/jwt/users')).status, 404);
    assert.match(await ok(['users', 'list']), /alice\s+false\n(.|\n)*root\s+true/);
    const authenticators = (await api('GET', '/authentication')).body as unknown as { id: string; enable: boolean }[];
    assert.deepEqual(
      authenticators.map((a) => [a.id, a.enable]),
      [['password_based:built_in_database', true]],
    );

    // EMQX's export format: a hash made with the configured algorithm (pbkdf2-sha256, 4096) and its salt, or a plain password
    const hash = pbkdf2Sync('imp-pw', 'emqx-salt', 4096, 32, 'sha256').toString('hex');
    const csv = path.join(dir, 'users.csv');
    writeFileSync(csv, `user_id,password,password_hash,salt,is_superuser\nimp1,,${hash},emqx-salt,false\nimp2,plain-pw,,,true\nbad,,nothex,,false\n`);
    assert.match(await ok(['users', 'import', csv]), /imported 2 of 3 user\(s\) .*\(0 replaced, 1 failed\)/);
    assert.equal(await connackCode(url, { username: 'imp1', password: 'imp-pw', protocolVersion: 5 }), 0);
    assert.equal(await connackCode(url, { username: 'imp2', password: 'plain-pw', protocolVersion: 5 }), 0);
    await api('DELETE', '/authentication/password_based:built_in_database/users/imp1');
    await api('DELETE', '/authentication/password_based:built_in_database/users/imp2');

    assert.equal(await connackCode(url, { username: 'alice', password: 'pw-1', protocolVersion: 5 }), 0);
    assert.equal(await connackCode(url, { username: 'root', password: 'root-pw', protocolVersion: 4 }), 0);
    assert.equal(await connackCode(url, { username: 'alice', password: 'wrong', protocolVersion: 5 }), 0x86);
    assert.equal(await connackCode(url, { username: 'alice', password: 'wrong', protocolVersion: 4 }), 4);
    assert.equal(await connackCode(url, { username: 'mallory', password: 'pw-1', protocolVersion: 5 }), 0x86);
    // EMQX 5: with an authenticator, a client it passes on (no username) is refused
    assert.equal(await connackCode(url, { clientId: 'anon-1', protocolVersion: 5 }), 0x87);
    assert.equal(await connackCode(url, { clientId: 'anon-2', protocolVersion: 4 }), 5);
    const failed = vireo.logs().find((l) => l.msg === 'Authentication failed' && l.username === 'mallory');
    assert.equal(failed?.reason, 'not_found');
    assert.equal(JSON.stringify(vireo.logs()).includes('wrong'), false, 'a password was logged');

    // a ban kicks the connected client and refuses it afterwards
    dev = await connect(url, { clientId: 'dev-9', username: 'alice', password: 'pw-1', protocolVersion: 5 });
    const kicked = new Promise<number | undefined>((resolve) => dev!.once('disconnect', (p) => resolve(p.reasonCode)));
    assert.match(await ok(['banned', 'add', 'clientid', 'dev-9', '--reason', 'stolen']), /banned clientid dev-9 until infinity/);
    assert.equal(await kicked, 0x98);
    assert.equal(await connackCode(url, { clientId: 'dev-9', protocolVersion: 5 }), 0x8a);
    assert.equal(await connackCode(url, { clientId: 'dev-9', protocolVersion: 4 }), 5);
    const until = new Date(Date.now() + 3600_000).toISOString();
    assert.equal((await api('POST', '/banned', { as: 'username', who: 'bob', by: 'test', until })).status, 200);
    assert.equal((await api('POST', '/banned', { as: 'username', who: 'bob' })).body.code, 'ALREADY_EXISTS');
    assert.equal((await api('POST', '/banned', { as: 'nobody', who: 'x' })).status, 400);
    const bans = (await api('GET', '/banned')).body as { data: { as: string; who: string; reason: string; by: string; until: string }[] };
    assert.deepEqual(
      bans.data.map((b) => [b.as, b.who, b.reason, b.by, b.until]),
      [
        ['clientid', 'dev-9', 'stolen', 'vireo ctl', 'infinity'],
        ['username', 'bob', '', 'test', until],
      ],
    );

    // an API key made through the API
    const made = JSON.parse(await ok(['api-keys', 'add', 'ci', '--json'])) as { api_key: string; api_secret: string };
    const withKey = { ...env, VIREO_CTL_API_KEY: `${made.api_key}:${made.api_secret}` };

    assert.ok((await metric(httpPort, 'vireo_authentication_failure')) >= 3);
    assert.ok((await metric(httpPort, 'vireo_client_banned')) >= 2);
    assert.equal(await metric(httpPort, 'vireo_authentication_success_anonymous'), 0);
    assert.equal(await metric(httpPort, 'vireo_authn_users_count'), 2);

    // a running trace (vireo ctl trace start goes through the same API)
    // traces are written to <data_dir>/trace/<name>.log, nowhere else
    const traceFile = path.join(dir, 'data', 'trace', 'follow.log');
    const started = await api('POST', '/trace', { name: 'follow', type: 'clientid', clientid: 'traced-1', duration: 3600 });
    assert.equal(started.status, 200, JSON.stringify(started.body));

    // kill -9, restart on the same data dir: users, bans, the key and the trace still apply
    vireo.kill('SIGKILL');
    await vireo.waitExit(5000);
    vireo = spawnVireo({ env });
    await vireo.waitForLog('started', 30_000);
    assert.equal(await connackCode(url, { username: 'alice', password: 'pw-1', protocolVersion: 5 }), 0);
    assert.equal(await connackCode(url, { username: 'alice', password: 'wrong', protocolVersion: 5 }), 0x86);
    assert.equal(await connackCode(url, { clientId: 'dev-9', protocolVersion: 5 }), 0x8a);
    assert.equal(await connackCode(url, { clientId: 'x', username: 'bob', protocolVersion: 5 }), 0x8a);
    const traces = (await api('GET', '/trace')).body as unknown as { name: string; status: string }[];
    assert.deepEqual(
      traces.map((t) => [t.name, t.status]),
      [['follow', 'running']],
    );
    assert.equal(await connackCode(url, { clientId: 'traced-1', username: 'root', password: 'root-pw', protocolVersion: 5 }), 0);
    await waitFor(() => readFileSync(traceFile, 'utf8').includes('"event":"connect"'), 'the restored trace to record the connect', 15_000);
    const after = await ctl(withKey, ['users', 'list']);
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /2 user\(s\)/);

    // change and remove
    await ok(['users', 'passwd', 'alice'], 'pw-2\n');
    assert.equal(await connackCode(url, { username: 'alice', password: 'pw-1', protocolVersion: 5 }), 0x86);
    assert.equal(await connackCode(url, { username: 'alice', password: 'pw-2', protocolVersion: 5 }), 0);
    assert.equal((await api('DELETE', '/authentication/password_based:built_in_database/users/alice')).status, 204);
    assert.equal(await connackCode(url, { username: 'alice', password: 'pw-2', protocolVersion: 5 }), 0x86);
    assert.equal((await api('DELETE', '/banned/clientid/dev-9')).status, 204);
    assert.equal(await connackCode(url, { clientId: 'dev-9', username: 'root', password: 'root-pw', protocolVersion: 5 }), 0);
    assert.equal((await api('DELETE', '/api_key/ci')).status, 204);
    assert.equal(
      (await fetch(`http://127.0.0.1:${httpPort}/api/v5/banned`, { headers: { authorization: `Basic ${Buffer.from(withKey.VIREO_CTL_API_KEY).toString('base64')}` } })).status,
      401,
    );

    // the log level of the running node
    assert.match(await ok(['log', 'set-level', 'debug']), /log level is now debug/);
    assert.equal((await api('GET', '/log/level')).body.level, 'debug');
    const c = await connect(url, { clientId: 'short-lived', username: 'root', password: 'root-pw', protocolVersion: 5 });
    await c.endAsync();
    await vireo.waitForLog('Session terminated', 5000);
    assert.equal((await api('PUT', '/log/level', { level: 'loud' })).status, 400);
  } finally {
    // dev was kicked: end() without waiting for a callback a closed client may never call
    dev?.end(true);
    vireo?.kill('SIGKILL');
    await vireo?.waitExit(5000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

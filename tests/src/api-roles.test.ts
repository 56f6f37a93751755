/**
 * The HTTP API's roles and its failed-authentication throttle on a real node: EMQX's
 * `viewer` reads but cannot change anything, `publisher` only publishes, bootstrap lines
 * carry a role; an address that keeps failing gets 429 with Retry-After, logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, endAll, waitFor } from './harness.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { apiNodeEnv } from './api-node.js';
import { ctl } from './ctl-run.js';

const T = { timeout: 120_000 };

test('roles: a viewer key cannot DELETE (403), a publisher only publishes; failed authentications get 429 with Retry-After', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-roles-'));
  const { keyFile, mqttPort, httpPort, env: base } = await apiNodeEnv(dir);
  writeFileSync(keyFile, 'ops:s3cret\nwatch:watch-secret:viewer\npub:pub-secret:publisher\n');
  const env = { ...base, VIREO_NODE__DATA_DIR: path.join(dir, 'data') };
  let vireo: VireoProcess | undefined;
  try {
    vireo = spawnVireo({ env });
    await vireo.waitForLog('started', 15_000);
    const api = async (cred: string, method: string, p: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/api/v5${p}`, {
        method,
        headers: { authorization: `Basic ${Buffer.from(cred).toString('base64')}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };

    // an API key made through the API with the viewer role: reads, but DELETE is 403 and the ban stays
    const made = await api('ops:s3cret', 'POST', '/api_key', { name: 'ro', role: 'viewer' });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    assert.equal(made.body.role, 'viewer');
    const ro = `${String(made.body.api_key)}:${String(made.body.api_secret)}`;
    assert.equal((await api('ops:s3cret', 'POST', '/banned', { as: 'clientid', who: 'victim' })).status, 200);
    assert.equal((await api(ro, 'GET', '/banned')).status, 200);
    const del = await api(ro, 'DELETE', '/banned/clientid/victim');
    assert.deepEqual([del.status, del.body.code], [403, 'FORBIDDEN']);
    const bans = (await api('ops:s3cret', 'GET', '/banned')).body.data as { who: string }[];
    assert.deepEqual(
      bans.map((b) => b.who),
      ['victim'],
      'the viewer changed nothing',
    );
    // the bootstrap viewer likewise; nor can it make itself a key or change its own role
    assert.equal((await api('watch:watch-secret', 'DELETE', '/api_key/ro')).status, 403);
    assert.equal((await api('watch:watch-secret', 'POST', '/api_key', { name: 'escalate' })).status, 403);
    assert.equal((await api(ro, 'PUT', '/api_key/ro', { role: 'administrator' })).status, 403);
    assert.equal(((await api('ops:s3cret', 'GET', '/api_key/ro')).body as { role: string }).role, 'viewer');
    assert.ok(vireo.logs().some((l) => l.msg === 'HTTP API request refused by the role' && l.role === 'viewer' && l.method === 'DELETE'));

    // the publisher: POST /publish delivers; reads and other writes are 403
    const c = await connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'roles-sub' });
    try {
      await c.subscribeAsync('roles/t', { qos: 1 });
      const got = new Promise<string>((resolve) => c.once('message', (_t, p) => resolve(p.toString())));
      const pub = await api('pub:pub-secret', 'POST', '/publish', { topic: 'roles/t', payload: 'from-publisher', qos: 1 });
      assert.equal(pub.status, 200, JSON.stringify(pub.body));
      assert.equal(await got, 'from-publisher');
    } finally {
      await endAll(c);
    }
    assert.equal((await api('pub:pub-secret', 'GET', '/clients')).status, 403);
    assert.equal((await api('pub:pub-secret', 'DELETE', '/banned/clientid/victim')).status, 403);
    // ctl shows the role
    const listed = await ctl(env, ['api-keys', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /ro\s+\S+\s+viewer/);

    // failed authentications: 10 answered 401, then 429 with Retry-After, even with a good key
    for (let i = 0; i < 10; i++) assert.equal((await api('ops:wrong', 'GET', '/clients')).status, 401, `attempt ${i + 1}`);
    const blocked = await api('ops:wrong', 'GET', '/clients');
    assert.equal(blocked.status, 429);
    const retry = Number(blocked.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    assert.equal((await api('ops:s3cret', 'GET', '/clients')).status, 429, 'the address is throttled whatever it sends');
    await waitFor(() => vireo!.logs().some((l) => l.msg.startsWith('HTTP API authentication failures throttled') && l.peerhost === '127.0.0.1'), 'the throttle logged');
    assert.equal(vireo.logs().filter((l) => l.msg === 'HTTP API authentication failed').length, 10, 'each failure logged, the throttled ones not');
    assert.equal(JSON.stringify(vireo.logs()).includes('wrong'), false, 'a secret was logged');
  } finally {
    vireo?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bootstrap line with an unknown role fails start-up naming the file and line', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-roles-'));
  try {
    const { keyFile, env } = await apiNodeEnv(dir);
    writeFileSync(keyFile, 'ops:s3cret\nx:y:superuser\n');
    const vireo = spawnVireo({ env });
    const exit = await vireo.waitExit(15_000);
    assert.equal(exit.code, 2);
    assert.match(vireo.stderr(), /api_key\.bootstrap_file: .*keys:2: unknown role "superuser"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

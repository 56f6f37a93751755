/**
 * Authentication and authorization from services the test runs, against a real node: the
 * `http` authenticator (templates, allow/deny/ignore, superuser, timeout, the answer cache,
 * kept-alive connections, falling through to the built-in database), `jwt` with a JWKS the
 * test serves (exp, nbf, verify_claims, a rotated key picked up in the background, the `acl`
 * claim), and the `http` authorization source with its per-client cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { MqttClient } from 'mqtt';
import { connect, endAll, waitFor, closeHttp } from './harness.js';
import { startMemoryNode, type VireoProcess } from './vireo-process.js';
import { connackCode } from './ctl-run.js';
import { pubackCode, subackCodes } from './mqtt-codes.js';

const T = { timeout: 120_000 };

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, string>;
}

/** An HTTP service: `answer` decides each request; every request and connection is recorded. */
async function service(
  answer: (s: Seen) => { status?: number; json?: unknown; delayMs?: number },
): Promise<{ url: string; seen: Seen[]; connections: () => number; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const body = text ? (JSON.parse(text) as Record<string, string>) : Object.fromEntries(u.searchParams);
      const s = { url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      const a = answer(s);
      const send = () => {
        if (a.json === undefined) res.writeHead(a.status ?? 204).end();
        else res.writeHead(a.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(a.json));
      };
      if (a.delayMs) setTimeout(send, a.delayMs);
      else send();
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    connections: () => connections,
    close: () => closeHttp(server),
  };
}

async function stop(vireo: VireoProcess | undefined): Promise<void> {
  vireo?.kill('SIGKILL');
  await vireo?.waitExit(5000).catch(() => undefined);
}

test('http authenticator: templates, allow/deny/ignore, superuser, timeout, cache, kept-alive pool, then the built-in database', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-authn-http-'));
  const svc = await service(({ body }) => {
    if (body.username === 'alice' && body.password === 'pw') return { json: { result: 'allow', is_superuser: false } };
    if (body.username === 'root') return { json: { result: 'allow', is_superuser: true } };
    if (body.username === 'bob') return { json: { result: 'deny' } };
    if (body.username === 'slow') return { json: { result: 'allow' }, delayMs: 1500 };
    if (body.username === 'boom') return { status: 500, json: { error: 'x' } };
    return { json: { result: 'ignore' } };
  });
  const users = path.join(dir, 'users.csv');
  writeFileSync(users, 'user_id,password,is_superuser\ncarol,c-pw,false\n');
  const authn = JSON.stringify([
    {
      mechanism: 'password_based',
      backend: 'http',
      url: `${svc.url}/auth/\${clientid}`,
      headers: { 'x-peer': '${peerhost}' },
      body: { username: '${username}', password: '${password}', clientid: '${clientid}' },
      request_timeout: '500ms',
      pool_size: 2,
      cache: { enable: true, ttl: '1m' },
    },
    { mechanism: 'password_based', backend: 'built_in_database', bootstrap_file: users },
  ]);
  let vireo: VireoProcess | undefined;
  try {
    const n = await startMemoryNode({ VIREO_AUTHENTICATION: authn });
    vireo = n.vireo;
    assert.equal(await connackCode(n.url, { clientId: 'a/1', username: 'alice', password: 'pw', protocolVersion: 5 }), 0);
    const first = svc.seen[0]!;
    assert.equal(first.url, '/auth/a%2F1', 'the client id is URL-encoded in the path');
    assert.deepEqual(first.body, { username: 'alice', password: 'pw', clientid: 'a/1' });
    assert.equal(first.headers['x-peer'], '127.0.0.1');
    assert.equal(await connackCode(n.url, { clientId: 'a/1', username: 'alice', password: 'pw', protocolVersion: 5 }), 0);
    assert.equal(svc.seen.length, 1, 'the second CONNECT was answered from the cache');
    assert.equal(await connackCode(n.url, { clientId: 'a/1', username: 'alice', password: 'other', protocolVersion: 5 }), 0x86, 'another password is not a cache hit');
    assert.equal(await connackCode(n.url, { clientId: 'b1', username: 'bob', password: 'x', protocolVersion: 4 }), 4);
    // ignored by the service: the built-in database decides
    assert.equal(await connackCode(n.url, { clientId: 'c1', username: 'carol', password: 'c-pw', protocolVersion: 5 }), 0);
    assert.equal(await connackCode(n.url, { clientId: 'c1', username: 'carol', password: 'nope', protocolVersion: 5 }), 0x86);
    assert.equal(await connackCode(n.url, { clientId: 'd1', username: 'dave', password: 'x', protocolVersion: 5 }), 0x86);
    assert.equal(await connackCode(n.url, { clientId: 'anon', protocolVersion: 5 }), 0x87);
    // a service that is slow or fails is ignored (logged), not trusted
    assert.equal(await connackCode(n.url, { clientId: 's1', username: 'slow', password: 'x', protocolVersion: 5 }), 0x86);
    assert.equal(await connackCode(n.url, { clientId: 'e1', username: 'boom', password: 'x', protocolVersion: 5 }), 0x86);
    await n.vireo.waitForLog('HTTP authentication service unreachable; ignored');
    assert.ok(n.vireo.logs().some((l) => l.msg === 'HTTP authentication service gave no answer; ignored' && l.reason === 'status 500'));
    const failed = n.vireo.logs().find((l) => l.msg === 'Authentication failed' && l.clientid === 'b1');
    assert.deepEqual([failed?.authenticator, failed?.reason], ['password_based:http', 'http_deny']);
    assert.equal(JSON.stringify(n.vireo.logs()).includes('c-pw'), false, 'a password was logged');
    // a superuser from the service
    assert.equal(await connackCode(n.url, { clientId: 'r1', username: 'root', password: 'x', protocolVersion: 5 }), 0);
    assert.ok(svc.connections() <= 3, `requests reuse kept-alive connections (${svc.connections()} for ${svc.seen.length} requests)`);
  } finally {
    await stop(vireo);
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jwt with a JWKS the test serves: exp, nbf, verify_claims, a rotated key, the acl claim', T, async () => {
  const k1 = await generateKeyPair('ES256');
  const k2 = await generateKeyPair('RS256');
  const other = await generateKeyPair('ES256');
  const jwk = async (k: CryptoKey, kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(k)), kid, alg, use: 'sig' });
  let keys: JWK[] = [await jwk(k1.publicKey, 'k1', 'ES256')];
  const jwks = await service(() => ({ json: { keys } }));
  const now = Math.floor(Date.now() / 1000);
  const token = (claims: Record<string, unknown>, key = k1.privateKey, kid = 'k1', alg = 'ES256') =>
    new SignJWT(claims)
      .setProtectedHeader({ alg, kid })
      .setExpirationTime(now + 3600)
      .sign(key);
  let vireo: VireoProcess | undefined;
  const clients: MqttClient[] = [];
  try {
    const n = await startMemoryNode({
      VIREO_AUTHENTICATION: JSON.stringify([{ mechanism: 'jwt', use_jwks: true, endpoint: `${jwks.url}/jwks`, refresh_interval: '1s', verify_claims: { sub: '${clientid}' } }]),
    });
    vireo = n.vireo;
    const code = async (clientId: string, password: string | undefined) => connackCode(n.url, { clientId, username: 'u', password, protocolVersion: 5 });
    assert.equal(await code('dev1', await token({ sub: 'dev1' })), 0);
    assert.equal(await code('dev2', await token({ sub: 'dev1' })), 0x86, 'sub must be the client id');
    assert.equal(
      await code(
        'dev1',
        await new SignJWT({ sub: 'dev1' })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setExpirationTime(now - 10)
          .sign(k1.privateKey),
      ),
      0x86,
    );
    assert.equal(
      await code(
        'dev1',
        await new SignJWT({ sub: 'dev1' })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setNotBefore(now + 600)
          .sign(k1.privateKey),
      ),
      0x86,
    );
    assert.equal(await code('dev1', await token({ sub: 'dev1' }, other.privateKey)), 0x86, 'signed by a key the JWKS does not hold');
    assert.equal(await code('dev1', 'not-a-jwt'), 0x86);
    assert.equal(await connackCode(n.url, { clientId: 'dev1', protocolVersion: 5 }), 0x87);
    assert.ok(n.vireo.logs().some((l) => l.msg === 'Authentication failed' && l.reason === 'expired'));

    // a key added to the JWKS is used once the background refresh has fetched it
    const rotated = await token({ sub: 'dev3' }, k2.privateKey, 'k2', 'RS256');
    assert.equal(await code('dev3', rotated), 0x86);
    keys = [...keys, await jwk(k2.publicKey, 'k2', 'RS256')];
    const until = Date.now() + 30_000;
    let c = 0x86;
    while (c !== 0 && Date.now() < until) c = await code('dev3', rotated);
    assert.equal(c, 0, 'the rotated key was not picked up');

    // EMQX's acl claim: the client's own rules, before the sources (none here: no_match allow)
    const acl = [
      { permission: 'allow', action: 'publish', topic: 'dev/${clientid}/#' },
      { permission: 'deny', action: 'all', topics: ['dev/#', 'cmd/#'] },
    ];
    const d4 = await connect(n.url, { clientId: 'dev4', username: 'u', password: await token({ sub: 'dev4', acl }), protocolVersion: 5 });
    clients.push(d4);
    assert.equal(await pubackCode(d4, 'dev/dev4/t'), 0);
    assert.equal(await pubackCode(d4, 'dev/dev5/t'), 0x87);
    assert.equal(await pubackCode(d4, 'other/t'), 0, 'no rule of the claim: no_match (allow) decides');
    assert.deepEqual(await subackCodes(d4, ['cmd/x', 'other/#']), [0x87, 1]);
    // the old form {pub, sub}: only what it lists is allowed by it
    const d5 = await connect(n.url, {
      clientId: 'dev5',
      username: 'u',
      password: await token({ sub: 'dev5', acl: { pub: ['up/${clientid}'], sub: ['down/${clientid}'] } }),
      protocolVersion: 5,
    });
    clients.push(d5);
    assert.equal(await pubackCode(d5, 'up/dev5'), 0);
    assert.deepEqual(await subackCodes(d5, ['down/dev5']), [1]);
  } finally {
    await endAll(...clients);
    await stop(vireo);
    await jwks.close();
  }
});

test('http authorization source: allow/deny/ignore per publish and subscribe, then the file, then no_match; the per-client cache', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-authz-http-'));
  const aclFile = path.join(dir, 'acl.yaml');
  writeFileSync(aclFile, '- {permission: allow, topics: ["file/#"]}\n');
  const svc = await service(({ body }) => {
    if (body.topic?.startsWith('ok/')) return { json: { result: 'allow' } };
    if (body.topic?.startsWith('no/')) return { json: { result: 'deny' } };
    if (body.topic === 'empty/204') return {};
    return { json: { result: 'ignore' } };
  });
  let vireo: VireoProcess | undefined;
  let c: MqttClient | undefined;
  try {
    const n = await startMemoryNode({
      VIREO_AUTHORIZATION__NO_MATCH: 'deny',
      VIREO_AUTHORIZATION__SOURCES: JSON.stringify([
        {
          type: 'http',
          method: 'get',
          url: `${svc.url}/authz`,
          body: { clientid: '${clientid}', username: '${username}', topic: '${topic}', action: '${action}', ip: '${peerhost}' },
        },
        { type: 'file', path: aclFile },
      ]),
    });
    vireo = n.vireo;
    c = await connect(n.url, { clientId: 'z1', username: 'zed', protocolVersion: 5 });
    assert.equal(await pubackCode(c, 'ok/1'), 0);
    assert.deepEqual(svc.seen[0]!.body, { clientid: 'z1', username: 'zed', topic: 'ok/1', action: 'publish', ip: '127.0.0.1' });
    assert.equal(await pubackCode(c, 'no/1'), 0x87);
    assert.equal(await pubackCode(c, 'empty/204'), 0, '204 is allow');
    assert.equal(await pubackCode(c, 'file/1'), 0, 'ignored by the service, allowed by the file');
    assert.equal(await pubackCode(c, 'else/1'), 0x87, 'ignored by both: no_match deny');
    assert.deepEqual(await subackCodes(c, ['ok/#', 'no/#', 'file/+']), [1, 0x87, 1]);
    assert.deepEqual(svc.seen.find((s) => s.body.topic === 'no/#')?.body.action, 'subscribe');
    const asked = svc.seen.length;
    assert.equal(await pubackCode(c, 'ok/1'), 0);
    assert.equal(await pubackCode(c, 'no/1'), 0x87);
    assert.equal(svc.seen.length, asked, "decisions come from the client's cache");
    // the cache is per client: another client asks again
    const c2 = await connect(n.url, { clientId: 'z2', protocolVersion: 5 });
    assert.equal(await pubackCode(c2, 'ok/1'), 0);
    await endAll(c2);
    await waitFor(() => svc.seen.length === asked + 1, "the second client's request");
  } finally {
    await endAll(c);
    await stop(vireo);
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

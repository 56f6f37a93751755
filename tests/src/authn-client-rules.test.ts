/**
 * A client's own rules and the end of its authentication, as EMQX 5 hands them over, against
 * a real node: the `acl` and `expire_at` of an HTTP authentication answer (from an HTTP server
 * the test runs), and a JWT's `acl` claim and `exp` with `disconnect_after_expire` (tokens
 * signed with jose). The rules come before the authorization sources (a file here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import type { MqttClient } from 'mqtt';
import { connect, endAll, quietFor, waitFor, closeHttp } from './harness.js';
import { startMemoryNode, type VireoProcess } from './vireo-process.js';
import { connackCode } from './ctl-run.js';
import { subackCodes } from './mqtt-codes.js';

const T = { timeout: 120_000 };

/** The reason code of a QoS 1 or 2 PUBLISH's PUBACK / PUBREC. */
async function pubCode(c: MqttClient, topic: string, qos: 1 | 2 = 1, retain = false): Promise<number> {
  try {
    const p = await c.publishAsync(topic, 'x', { qos, retain });
    return (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** An authentication service: each request's username picks the answer. */
async function authService(answer: (username: string) => unknown): Promise<{ url: string; asked: string[]; close(): Promise<void> }> {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as { username: string };
      asked.push(body.username);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(body.username)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`,
    asked,
    close: () => closeHttp(server),
  };
}

/** Resolves with the DISCONNECT reason code the server sends (or -1 when it just closes). */
function disconnectedWith(c: MqttClient): Promise<number> {
  return new Promise((resolve) => {
    c.once('disconnect', (p: { reasonCode?: number }) => resolve(p.reasonCode ?? 0));
    c.once('close', () => resolve(-1));
  });
}

/** A file source that allows everything: what the client's own rules deny must stay denied. */
function allowAllFile(dir: string): string {
  const f = path.join(dir, 'acl.yaml');
  writeFileSync(f, '- {permission: allow}\n');
  return f;
}

test('http authentication answer: acl (eq, qos, retain, clientid_re) before the sources; expire_at disconnects; a bad acl is ignored', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-authn-acl-'));
  const soon = () => Math.floor(Date.now() / 1000) + 3;
  const svc = await authService((username) => {
    if (username === 'dev')
      return {
        result: 'allow',
        acl: [
          { permission: 'allow', action: 'publish', topic: 'up/${clientid}', qos: [1] },
          { permission: 'deny', action: 'publish', topic: 'state/#', retain: true },
          { permission: 'allow', action: 'subscribe', topic: 'eq cmd/${clientid}' },
          { permission: 'deny', action: 'subscribe', topic: 'cmd/#' },
          { permission: 'deny', action: 'all', topic: 'up/#' },
          { permission: 'deny', action: 'publish', topic: 'lab/#', clientid_re: '^lab-' },
        ],
      };
    if (username === 'short') return { result: 'allow', expire_at: soon() };
    if (username === 'gone') return { result: 'allow', expire_at: Math.floor(Date.now() / 1000) - 60 };
    if (username === 'badacl') return { result: 'allow', acl: [{ permission: 'maybe', action: 'publish', topic: 't' }] };
    if (username === 'badexp') return { result: 'allow', expire_at: 'tomorrow' };
    return { result: 'ignore' };
  });
  let vireo: VireoProcess | undefined;
  const clients: MqttClient[] = [];
  try {
    const n = await startMemoryNode({
      VIREO_AUTHENTICATION: JSON.stringify([{ mechanism: 'password_based', backend: 'http', url: svc.url, body: { username: '${username}' } }]),
      VIREO_AUTHORIZATION__SOURCES: JSON.stringify([{ type: 'file', path: allowAllFile(dir) }]),
      VIREO_AUTHORIZATION__NO_MATCH: 'deny',
    });
    vireo = n.vireo;
    const d = await connect(n.url, { clientId: 'd1', username: 'dev', password: 'x', protocolVersion: 5 });
    clients.push(d);
    // qos: the allow holds for QoS 1 only; QoS 2 falls to the deny of up/#, which the file's allow-all does not undo
    assert.equal(await pubCode(d, 'up/d1', 1), 0);
    assert.equal(await pubCode(d, 'up/d1', 2), 0x87);
    assert.equal(await pubCode(d, 'up/other', 1), 0x87);
    // retain: only retained messages are denied on state/#
    assert.equal(await pubCode(d, 'state/x', 1, false), 0);
    assert.equal(await pubCode(d, 'state/x', 1, true), 0x87);
    // eq: exactly that filter, literally; cmd/d1 itself is denied by the next rule
    assert.deepEqual(await subackCodes(d, ['cmd/${clientid}', 'cmd/d1', 'free/#']), [1, 0x87, 1]);
    // clientid_re: the lab rule is not about d1; the file source decides
    assert.equal(await pubCode(d, 'lab/x'), 0);
    const lab = await connect(n.url, { clientId: 'lab-7', username: 'dev', password: 'x', protocolVersion: 5 });
    clients.push(lab);
    assert.equal(await pubCode(lab, 'lab/x'), 0x87);

    // expire_at in the past: refused; a malformed acl or expire_at: the answer counts as none (ignored, logged)
    assert.equal(await connackCode(n.url, { clientId: 'g1', username: 'gone', password: 'x', protocolVersion: 5 }), 0x86);
    const failed = n.vireo.logs().find((l) => l.msg === 'Authentication failed' && l.clientid === 'g1');
    assert.equal(failed?.reason, 'expired');
    assert.equal(await connackCode(n.url, { clientId: 'b1', username: 'badacl', password: 'x', protocolVersion: 5 }), 0x86);
    assert.equal(await connackCode(n.url, { clientId: 'b2', username: 'badexp', password: 'x', protocolVersion: 5 }), 0x86);
    const ignored = n.vireo.logs().filter((l) => l.msg === 'HTTP authentication service gave no answer; ignored');
    assert.ok(
      ignored.some((l) => String(l.reason).includes('acl: rule 1: permission must be allow or deny')),
      JSON.stringify(ignored),
    );
    assert.ok(ignored.some((l) => String(l.reason).includes('expire_at')));

    // expire_at: the client is disconnected then, with 0xA0 (maximum connect time), and it is logged
    const s = await connect(n.url, { clientId: 's1', username: 'short', password: 'x', protocolVersion: 5 });
    clients.push(s);
    const rc = await disconnectedWith(s);
    assert.equal(rc, 0xa0);
    const line = await n.vireo.waitForLog('Client disconnected: its authentication expired');
    assert.equal(line.clientid, 's1');
    assert.equal(d.connected, true, 'a client without expire_at stays connected');
  } finally {
    await endAll(...clients);
    vireo?.kill('SIGKILL');
    await vireo?.waitExit(5000).catch(() => undefined);
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jwt: the old {pub, sub} form is a whitelist before the sources; exp disconnects (disconnect_after_expire), unless turned off', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-jwt-acl-'));
  const secret = 'a-long-shared-secret-for-hs256!!';
  const token = (claims: Record<string, unknown>, expIn: number) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + expIn)
      .sign(Buffer.from(secret));
  const jwtAuthn = (extra: Record<string, unknown> = {}) =>
    JSON.stringify([{ mechanism: 'jwt', algorithm: 'hmac-based', secret, verify_claims: { sub: '${clientid}' }, ...extra }]);
  let vireo: VireoProcess | undefined;
  const clients: MqttClient[] = [];
  try {
    let n = await startMemoryNode({ VIREO_AUTHENTICATION: jwtAuthn(), VIREO_AUTHORIZATION__SOURCES: JSON.stringify([{ type: 'file', path: allowAllFile(dir) }]) });
    vireo = n.vireo;
    const w = await connect(n.url, {
      clientId: 'w1',
      username: 'u',
      password: await token({ sub: 'w1', acl: { pub: ['up/${clientid}', 'eq raw/${clientid}'], sub: ['down/#'] } }, 3600),
      protocolVersion: 5,
    });
    clients.push(w);
    assert.equal(await pubCode(w, 'up/w1'), 0);
    assert.equal(await pubCode(w, 'raw/${clientid}'), 0, 'eq: the topic as written');
    assert.equal(await pubCode(w, 'raw/w1'), 0x87);
    // not in the whitelist: denied by it, although the file source allows everything
    assert.equal(await pubCode(w, 'elsewhere'), 0x87);
    assert.deepEqual(await subackCodes(w, ['down/w1', 'up/w1']), [1, 0x87]);

    // exp in 3 s: a v5 client gets DISCONNECT 0xA0, a 3.1.1 client is closed
    const v5 = await connect(n.url, { clientId: 'e5', username: 'u', password: await token({ sub: 'e5' }, 3), protocolVersion: 5 });
    const v4 = await connect(n.url, { clientId: 'e4', username: 'u', password: await token({ sub: 'e4' }, 3), protocolVersion: 4 });
    clients.push(v5, v4);
    const [rc5, rc4] = await Promise.all([disconnectedWith(v5), disconnectedWith(v4)]);
    assert.deepEqual([rc5, rc4], [0xa0, -1]);
    await waitFor(() => n.vireo.logs().filter((l) => l.msg === 'Client disconnected: its authentication expired').length === 2, 'both logged');
    assert.equal(w.connected, true, 'a token that has not expired keeps its client');
    await endAll(...clients.splice(0));
    vireo.kill('SIGKILL');
    await vireo.waitExit(5000);

    // disconnect_after_expire: false: the token is checked at CONNECT only
    n = await startMemoryNode({ VIREO_AUTHENTICATION: jwtAuthn({ disconnect_after_expire: false }), VIREO_AUTHORIZATION__NO_MATCH: 'deny' });
    vireo = n.vireo;
    const keep = await connect(n.url, { clientId: 'k1', username: 'u', password: await token({ sub: 'k1' }, 2), protocolVersion: 5 });
    clients.push(keep);
    // no sources: nothing is checked (no_match is for what the sources leave undecided)
    assert.equal(await pubCode(keep, 'any/topic'), 0);
    await quietFor(4000, () => keep.connected, 'the client stays connected past its exp');
  } finally {
    await endAll(...clients);
    vireo?.kill('SIGKILL');
    await vireo?.waitExit(5000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

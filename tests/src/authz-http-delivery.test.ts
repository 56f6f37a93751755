/**
 * What an `http` authorization source decides about reading, against a real node and a real
 * HTTP service: as in EMQX, it is asked about the SUBSCRIBE filter, not about each delivered
 * message (docs/security.md says why), so a service that allows `#` has let that subscriber
 * read everything. The two ways the docs give to keep a subscribe deny at delivery work: the
 * `acl` of the HTTP authentication answer, and a file source's deny.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, waitFor, closeHttp } from './harness.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { subackCodes } from './mqtt-codes.js';

const T = { timeout: 120_000 };

interface Asked {
  path: string;
  body: Record<string, string>;
}

/**
 * `/authn`: every client is allowed; user `guarded` gets its own rules with a subscribe deny.
 * `/authz`: SUBSCRIBE filters under `secret/` are denied, everything else allowed.
 */
async function service(): Promise<{ url: string; asked: Asked[]; close(): Promise<void> }> {
  const asked: Asked[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, string>;
      asked.push({ path: req.url ?? '', body });
      let answer: unknown;
      if (req.url === '/authn') {
        answer = body.username === 'guarded' ? { result: 'allow', acl: [{ permission: 'deny', action: 'subscribe', topic: 'secret/#' }] } : { result: 'allow' };
      } else answer = { result: body.action === 'subscribe' && body.topic.startsWith('secret/') ? 'deny' : 'allow' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    close: () => closeHttp(server),
  };
}

/** Subscribes to `#`, records what arrives. */
async function reader(url: string, clientId: string, username: string): Promise<{ c: MqttClient; got: string[] }> {
  const c = await connect(url, { clientId, username, password: 'x', protocolVersion: 5 });
  const got: string[] = [];
  c.on('message', (t) => got.push(t));
  assert.deepEqual(await subackCodes(c, ['#']), [1]);
  return { c, got };
}

test('an http authorization source decides SUBSCRIBE filters only; the authn answer acl and a file deny hold at delivery', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-authz-delivery-'));
  const aclFile = path.join(dir, 'acl.yaml');
  // the file comes after the service, which allows `#`: its deny is still kept at delivery for whom it names
  writeFileSync(aclFile, '- {permission: deny, who: {username: filed}, action: subscribe, topics: ["secret/#"]}\n');
  const svc = await service();
  const port = await freePort();
  const vireo: VireoProcess = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_DURABLE_STORAGE__BACKEND: 'memory',
      VIREO_AUTHENTICATION: JSON.stringify([{ mechanism: 'password_based', backend: 'http', url: `${svc.url}/authn`, body: { username: '${username}' } }]),
      VIREO_AUTHORIZATION__SOURCES: JSON.stringify([
        { type: 'http', url: `${svc.url}/authz`, body: { topic: '${topic}', action: '${action}', username: '${username}' } },
        { type: 'file', path: aclFile },
      ]),
    },
  });
  const clients: MqttClient[] = [];
  try {
    await vireo.waitForLog('started', 30_000);
    const url = `mqtt://127.0.0.1:${port}`;
    const plain = await reader(url, 'r-plain', 'plain');
    const guarded = await reader(url, 'r-guarded', 'guarded');
    const filed = await reader(url, 'r-filed', 'filed');
    const pub = await connect(url, { clientId: 'pub', username: 'pub', password: 'x', protocolVersion: 5 });
    clients.push(plain.c, guarded.c, filed.c, pub);
    // the service denies subscribing to the secret tree itself
    assert.deepEqual(await subackCodes(plain.c, ['secret/#']), [0x87]);

    await pub.publishAsync('secret/plans', 'p', { qos: 1 });
    await pub.publishAsync('other/marker', 'm', { qos: 1 });
    for (const r of [plain, guarded, filed]) await waitFor(() => r.got.includes('other/marker'), `${r.c.options.clientId} gets the marker`);
    // EMQX's semantics for the service: it allowed `#`, so that reader gets the secret
    assert.deepEqual(plain.got, ['secret/plans', 'other/marker']);
    // its own rules from the authentication answer, and the file's deny, are kept per message
    assert.deepEqual(guarded.got, ['other/marker']);
    assert.deepEqual(filed.got, ['other/marker']);
    // and the service was asked about filters and published topics, never about a delivery
    const subscribeAsks = svc.asked.filter((a) => a.path === '/authz' && a.body.action === 'subscribe').map((a) => a.body.topic);
    assert.deepEqual(subscribeAsks.sort(), ['#', '#', '#', 'secret/#']);
  } finally {
    await endAll(...clients);
    vireo.kill('SIGKILL');
    await vireo.waitExit(5000).catch(() => undefined);
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The HTTP API over TLS (`dashboard.listeners.https`, EMQX's name) on a real node: the same
 * routes, keys and roles behind a certificate, with the plain port off; a missing
 * certificate file stops start-up naming the key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './harness.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { apiNodeEnv } from './api-node.js';
import { makeCerts } from './certs.js';

const T = { timeout: 120_000 };

function get(port: number, p: string, ca: Buffer, cred?: string): Promise<{ status: number; body: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const headers = cred ? { authorization: `Basic ${Buffer.from(cred).toString('base64')}` } : {};
    // agent: false, one connection per request: nothing kept open after the test
    const req = https.request({ host: '127.0.0.1', port, path: p, method: 'GET', ca, headers, agent: false }, (res) => {
      const protocol = (res.socket as import('node:tls').TLSSocket).getProtocol() ?? '';
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('HTTPS API: the same routes, keys and roles over TLS, with the plain port off', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-https-'));
  const certs = makeCerts();
  let vireo: VireoProcess | undefined;
  try {
    const { httpPort, env: base } = await apiNodeEnv(dir);
    const httpsPort = await freePort();
    vireo = spawnVireo({
      env: {
        ...base,
        VIREO_NODE__DATA_DIR: path.join(dir, 'data'),
        VIREO_DASHBOARD__LISTENERS__HTTP__BIND: '0',
        VIREO_DASHBOARD__LISTENERS__HTTPS__BIND: `127.0.0.1:${httpsPort}`,
        VIREO_DASHBOARD__LISTENERS__HTTPS__SSL_OPTIONS__CERTFILE: certs.certFile,
        VIREO_DASHBOARD__LISTENERS__HTTPS__SSL_OPTIONS__KEYFILE: certs.keyFile,
      },
    });
    const line = await vireo.waitForLog('HTTPS API listening', 30_000);
    assert.equal(line.bind, `127.0.0.1:${httpsPort}`);
    const ok = await get(httpsPort, '/api/v5/clients', certs.ca, 'ops:s3cret');
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.protocol, /^TLSv1\.[23]$/);
    assert.equal((await get(httpsPort, '/api/v5/clients', certs.ca)).status, 401);
    assert.equal((await get(httpsPort, '/status', certs.ca)).status, 200);
    // a client that does not trust the certificate gets no answer at all
    await assert.rejects(get(httpsPort, '/status', Buffer.from('')), /self.signed|unable to (get|verify)|certificate/i);
    // and the plain port it was given is not open
    await assert.rejects(fetch(`http://127.0.0.1:${httpPort}/status`));
    assert.equal(
      vireo.logs().some((l) => l.msg === 'HTTP API listening'),
      false,
    );
  } finally {
    vireo?.kill('SIGKILL');
    certs.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HTTPS API without its key file stops start-up naming the key', T, async () => {
  const certs = makeCerts();
  try {
    const p = spawnVireo({
      env: {
        VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
        VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
        VIREO_DASHBOARD__LISTENERS__HTTPS__BIND: `127.0.0.1:${await freePort()}`,
        VIREO_DASHBOARD__LISTENERS__HTTPS__SSL_OPTIONS__CERTFILE: certs.certFile,
      },
    });
    const exit = await p.waitExit(30_000);
    assert.equal(exit.code, 2, p.stderr());
    assert.match(p.stderr(), /dashboard\.listeners\.https\.ssl_options\.keyfile: the HTTPS listener needs certfile and keyfile/);
  } finally {
    certs.remove();
  }
});

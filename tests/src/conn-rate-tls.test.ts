/**
 * `max_conn_rate` on the TLS listener: connections past the rate wait before their TLS
 * handshake (the costliest part of a connection storm), not only before their CONNECT; all
 * of them get through, none is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { freePort, waitFor } from './harness.js';
import { makeCerts } from './certs.js';
import { spawnVireo } from './vireo-process.js';

const CONNECT = Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 0]);

test('max_conn_rate on a TLS listener: handshakes past the rate wait, every client gets its CONNACK', { timeout: 120_000 }, async (t) => {
  const certs = makeCerts();
  const port = await freePort();
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_LISTENERS__SSL__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE: certs.certFile,
      VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE: certs.keyFile,
      VIREO_LISTENERS__SSL__DEFAULT__MAX_CONN_RATE: '10/s',
    },
  });
  const sockets: tls.TLSSocket[] = [];
  try {
    await vireo.waitForLog('started');
    // 40 at once; at 10/s after a bucket of 10 the last handshake is about 3 s later
    const N = 40;
    const started = Date.now();
    const handshakes: number[] = [];
    let connacks = 0;
    const errors: string[] = [];
    for (let i = 0; i < N; i++) {
      // the empty client id of a clean 3.1.1 session: the node assigns one
      const s = tls.connect({ host: '127.0.0.1', port, ca: certs.ca }, () => {
        handshakes.push(Date.now() - started);
        s.write(CONNECT);
      });
      s.on('data', (d: Buffer) => {
        if (d[0] === 0x20 && d[3] === 0) connacks++;
      });
      s.on('error', (err) => errors.push(err.message));
      sockets.push(s);
    }
    await waitFor(() => connacks + errors.length >= N, `CONNACKs for all ${N} (have ${connacks})`, 30_000, 20);
    handshakes.sort((a, b) => a - b);
    t.diagnostic(`TLS handshakes done at ${handshakes[0]} … ${handshakes[N - 1]} ms`);
    assert.deepEqual(errors, [], 'no client failed');
    assert.equal(connacks, N);
    // admitted by T ms: at most 10 + T / 100 (a handshake ends after its admission, never before)
    handshakes.forEach((at, k) => assert.ok(k + 1 <= 10 + at / 100 + 2, `handshake ${k + 1} done at ${at} ms: faster than 10/s`));
    assert.ok(handshakes[N - 1] >= 2500, `the last handshake waited for the rate (${handshakes[N - 1]} ms)`);
  } finally {
    for (const s of sockets) s.destroy();
    vireo.kill('SIGKILL');
    await vireo.waitExit();
    certs.remove();
  }
});

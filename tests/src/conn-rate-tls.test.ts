/**
 * `max_conn_rate` on the TLS listeners: connections past the rate wait before their TLS
 * handshake (the costliest part of a connection storm), not only before their CONNECT — on
 * `ssl`, on `wss`, and on `ssl` behind a load balancer's PROXY protocol header; all of them
 * get through, none is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { makeCerts, type TestCerts } from './certs.js';
import { spawnVireo } from './vireo-process.js';

const CONNECT = Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 0]);

type Kind = 'ssl' | 'wss' | 'ssl+proxy';

/** A node whose only listener is `kind` on `port`, with max_conn_rate 10/s. */
function node(kind: Kind, port: number, certs: TestCerts) {
  const l = kind === 'wss' ? 'WSS' : 'SSL';
  return spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      [`VIREO_LISTENERS__${l}__DEFAULT__BIND`]: `127.0.0.1:${port}`,
      [`VIREO_LISTENERS__${l}__DEFAULT__SSL_OPTIONS__CERTFILE`]: certs.certFile,
      [`VIREO_LISTENERS__${l}__DEFAULT__SSL_OPTIONS__KEYFILE`]: certs.keyFile,
      [`VIREO_LISTENERS__${l}__DEFAULT__MAX_CONN_RATE`]: '10/s',
      ...(kind === 'ssl+proxy' ? { VIREO_LISTENERS__SSL__DEFAULT__PROXY_PROTOCOL: 'true' } : {}),
    },
  });
}

/** A TLS client of `kind`'s listener: on wss the TLS handshake alone (the HTTP upgrade comes after it), with a PROXY v1 header first on ssl+proxy. */
function tlsClient(kind: Kind, port: number, certs: TestCerts, i: number, onSecure: (s: tls.TLSSocket) => void): tls.TLSSocket {
  if (kind !== 'ssl+proxy') {
    const s: tls.TLSSocket = tls.connect({ host: '127.0.0.1', port, ca: certs.ca, servername: 'localhost' }, () => onSecure(s));
    return s;
  }
  const raw = net.connect(port, '127.0.0.1');
  raw.write(`PROXY TCP4 10.0.${i >> 8}.${i & 255} 127.0.0.1 4${String(i).padStart(4, '0')} ${port}\r\n`);
  const s: tls.TLSSocket = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' }, () => onSecure(s));
  return s;
}

for (const kind of ['ssl', 'wss', 'ssl+proxy'] as const) {
  test(`max_conn_rate on ${kind}: TLS handshakes past the rate wait, every client gets through`, { timeout: 120_000 }, async (t) => {
    const certs = makeCerts();
    const port = await freePort();
    const vireo = node(kind, port, certs);
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
        const s = tlsClient(kind, port, certs, i, (sock) => {
          handshakes.push(Date.now() - started);
          // the empty client id of a clean 3.1.1 session: the node assigns one
          if (kind !== 'wss') sock.write(CONNECT);
        });
        s.on('data', (d: Buffer) => {
          if (d[0] === 0x20 && d[3] === 0) connacks++;
        });
        s.on('error', (err) => errors.push(err.message));
        sockets.push(s);
      }
      await waitFor(() => handshakes.length + errors.length >= N, `TLS handshakes for all ${N} (have ${handshakes.length})`, 30_000, 20);
      if (kind !== 'wss') await waitFor(() => connacks + errors.length >= N, `CONNACKs for all ${N} (have ${connacks})`, 30_000, 20);
      handshakes.sort((a, b) => a - b);
      t.diagnostic(`TLS handshakes done at ${handshakes[0]} … ${handshakes[N - 1]} ms`);
      assert.deepEqual(errors, [], 'no client failed');
      if (kind !== 'wss') assert.equal(connacks, N);
      // admitted by T ms: at most 10 + T / 100 (a handshake ends after its admission, never before)
      handshakes.forEach((at, k) => assert.ok(k + 1 <= 10 + at / 100 + 2, `handshake ${k + 1} done at ${at} ms: faster than 10/s`));
      assert.ok(handshakes[N - 1] >= 2500, `the last handshake waited for the rate (${handshakes[N - 1]} ms)`);
      if (kind === 'wss') {
        // and MQTT over that listener works end to end once its turn comes
        const c = await connect(`wss://127.0.0.1:${port}/mqtt`, { clientId: 'wss-client', protocolVersion: 5, ca: certs.ca, servername: 'localhost' }, 20_000);
        await endAll(c);
      }
    } finally {
      for (const s of sockets) s.destroy();
      vireo.kill('SIGKILL');
      await vireo.waitExit();
      certs.remove();
    }
  });
}

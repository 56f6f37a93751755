import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import mqtt from 'mqtt';
import { freePort, startBroker, connect, collect, endAll, waitFor } from './harness.js';
import { makeCerts, type TestCerts } from './certs.js';
import { captureLog } from './log-capture.js';
import { spawnVireo } from './vireo-process.js';

let certs: TestCerts;
before(() => {
  certs = makeCerts();
});
after(() => certs.remove());

const T = { timeout: 120_000 };

async function tlsBroker(verifyPeer: boolean, failIfNoPeerCert: boolean, log = captureLog()) {
  const [tcp, ssl, wss] = [await freePort(), await freePort(), await freePort()];
  const tlsOpts = { cert: certs.cert, key: certs.key, ca: certs.ca, verifyPeer, failIfNoPeerCert };
  const tb = await startBroker({
    logger: log.logger,
    listeners: [
      { type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port: tcp, maxConnections: 1000 },
      { type: 'ssl', name: 'ssl:default', host: '127.0.0.1', port: ssl, maxConnections: 1000, tls: tlsOpts },
      { type: 'wss', name: 'wss:default', host: '127.0.0.1', port: wss, maxConnections: 1000, path: '/mqtt', tls: tlsOpts },
    ],
  });
  return { tb, tcp, ssl, wss, log };
}

test('MQTT over TLS and over secure WebSocket reach TCP clients both ways', T, async () => {
  const { tb, tcp, ssl, wss } = await tlsBroker(false, false);
  let plain, secure, websocket;
  try {
    plain = await connect(`mqtt://127.0.0.1:${tcp}`, { clientId: 'plain' });
    secure = await connect(`mqtts://127.0.0.1:${ssl}`, { clientId: 'secure', ca: certs.ca, protocolVersion: 5 });
    websocket = await connect(`wss://127.0.0.1:${wss}/mqtt`, { clientId: 'websocket', ca: certs.ca });
    assert.equal((secure.stream as tls.TLSSocket).authorized, true, 'the server certificate chains to the test CA');
    await plain.subscribeAsync('t/#', { qos: 1 });
    await secure.subscribeAsync('t/#', { qos: 1 });
    const toPlain = collect(plain, 2);
    const toSecure = collect(secure, 2);
    await secure.publishAsync('t/from-tls', 'a', { qos: 1 });
    await websocket.publishAsync('t/from-wss', 'b', { qos: 1 });
    for (const got of [await toPlain, await toSecure]) {
      assert.deepEqual(got.map((m) => `${m.topic}=${m.payload}`).sort(), ['t/from-tls=a', 't/from-wss=b']);
    }
    const names = tb.broker
      .listenerStats()
      .map((l) => `${l.name}:${l.connections}`)
      .sort();
    assert.deepEqual(names, ['ssl:default:1', 'tcp:default:1', 'wss:default:1']);
  } finally {
    await endAll(plain, secure, websocket);
    await tb.close();
  }
});

test('verify_peer + fail_if_no_peer_cert: a client without a certificate is refused, one with a certificate connects', T, async () => {
  const { tb, ssl, log } = await tlsBroker(true, true);
  let good;
  try {
    await assert.rejects(connect(`mqtts://127.0.0.1:${ssl}`, { clientId: 'anon', ca: certs.ca }, 3000));
    good = await connect(`mqtts://127.0.0.1:${ssl}`, { clientId: 'device-1', ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
    assert.equal(good.connected, true);
    await waitFor(() => log.find('TLS handshake failed').length > 0, 'the handshake failure log line');
    assert.equal(tb.broker.listenerStats().find((l) => l.name === 'ssl:default')?.shutdownCount.ssl_error, 1);
  } finally {
    await endAll(good);
    await tb.close();
  }
});

test('verify_peer alone: no certificate is let in, a certificate from another CA is refused', T, async () => {
  const { tb, ssl, log } = await tlsBroker(true, false);
  const stranger = makeCerts(); // a different CA: its client certificate does not chain to ours
  let anon, good;
  try {
    anon = await connect(`mqtts://127.0.0.1:${ssl}`, { clientId: 'anon', ca: certs.ca });
    good = await connect(`mqtts://127.0.0.1:${ssl}`, { clientId: 'device-1', ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
    await assert.rejects(connect(`mqtts://127.0.0.1:${ssl}`, { clientId: 'forged', ca: certs.ca, cert: stranger.clientCert, key: stranger.clientKey }, 3000));
    await waitFor(() => log.find('TLS handshake failed').length > 0, 'the rejection log line');
    assert.equal(anon.connected && good.connected, true);
  } finally {
    stranger.remove();
    await endAll(anon, good);
    await tb.close();
  }
});

test('plain TCP bytes on the TLS port do not disturb the node', T, async () => {
  const { tb, ssl, tcp } = await tlsBroker(false, false);
  let client;
  try {
    const sock = net.connect(ssl, '127.0.0.1');
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    sock.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]));
    await new Promise<void>((resolve) => sock.once('close', () => resolve()));
    client = await connect(`mqtt://127.0.0.1:${tcp}`, { clientId: 'after' });
    assert.equal(client.connected, true);
  } finally {
    await endAll(client);
    await tb.close();
  }
});

test('vireo start: a TLS listener whose certificate file is missing stops start-up naming the key', T, async () => {
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_LISTENERS__SSL__DEFAULT__BIND: `127.0.0.1:${await freePort()}`,
      VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE: '/nonexistent/server.pem',
      VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE: certs.keyFile,
    },
  });
  const exit = await vireo.waitExit(10_000);
  assert.equal(exit.code, 2);
  assert.match(vireo.stderr(), /listeners\.ssl\.default\.ssl_options\.certfile: cannot read \/nonexistent\/server\.pem \(ENOENT\)/);
});

test('vireo start: TLS listener from the environment serves mqtts', T, async () => {
  const port = await freePort();
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_LISTENERS__SSL__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE: certs.certFile,
      VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE: certs.keyFile,
    },
  });
  let client: mqtt.MqttClient | undefined;
  try {
    await vireo.waitForLog('started', 10_000);
    client = await connect(`mqtts://127.0.0.1:${port}`, { clientId: 'proc', ca: certs.ca });
    const got = collect(client, 1);
    await client.subscribeAsync('p/1', { qos: 1 });
    await client.publishAsync('p/1', 'over tls', { qos: 1 });
    assert.equal((await got)[0].payload, 'over tls');
  } finally {
    await endAll(client);
    vireo.kill('SIGTERM');
    await vireo.waitExit(8000);
  }
});

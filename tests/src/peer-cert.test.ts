/**
 * mTLS: the client certificate names the client (EMQX's mqtt.peer_cert_as_username and
 * peer_cert_as_clientid) on a real node. Whatever the CONNECT says, the ACL and the client
 * list see the certificate's CN as username and its MD5 as client id; a client without a
 * certificate keeps its own names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { makeCerts } from './certs.js';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { pubackCode } from './mqtt-codes.js';

test('peer_cert_as_username: cn and peer_cert_as_clientid: md5 on a verify_peer TLS listener; ACL rules see them', { timeout: 120_000 }, async () => {
  const certs = makeCerts();
  const aclFile = path.join(certs.dir, 'acl.yaml');
  writeFileSync(aclFile, '- {permission: allow, action: publish, topics: ["devices/${username}/#"]}\n- {permission: deny, action: publish}\n');
  const port = await freePort();
  let vireo: VireoProcess | undefined;
  const clients: MqttClient[] = [];
  try {
    vireo = spawnVireo({
      env: {
        VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
        VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
        VIREO_DURABLE_STORAGE__BACKEND: 'memory',
        VIREO_LISTENERS__SSL__DEFAULT__BIND: `127.0.0.1:${port}`,
        VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE: certs.certFile,
        VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE: certs.keyFile,
        VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CACERTFILE: certs.caFile,
        VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__VERIFY: 'verify_peer',
        VIREO_MQTT__PEER_CERT_AS_USERNAME: 'cn',
        VIREO_MQTT__PEER_CERT_AS_CLIENTID: 'md5',
        VIREO_AUTHORIZATION__SOURCES: `[{type: file, path: "${aclFile}"}]`,
      },
    });
    await vireo.waitForLog('started', 30_000);
    const url = `mqtts://127.0.0.1:${port}`;
    const md5 = createHash('md5').update(new X509Certificate(certs.clientCert).raw).digest('hex');

    // the CONNECT claims to be admin / someone-else: the certificate says device-1
    const dev = await connect(url, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, clientId: 'someone-else', username: 'admin', protocolVersion: 5 });
    clients.push(dev);
    assert.equal(await pubackCode(dev, 'devices/device-1/t'), 0, 'the username is the CN');
    assert.equal(await pubackCode(dev, 'devices/admin/t'), 0x87, 'not the username the CONNECT gave');
    // the log line reaches us through the node's stdout, after the PUBACK: wait for it
    const isDenied = (l: { msg: string; topic?: unknown }) => l.msg === 'Publish denied by authorization' && l.topic === 'devices/admin/t';
    const logs = vireo.logs;
    await waitFor(() => logs().some(isDenied), 'the denial log line');
    const denied = logs().find(isDenied);
    assert.equal(denied?.clientid, md5, 'the client id is the MD5 of the certificate');

    // without a certificate (verify_peer lets it in: fail_if_no_peer_cert is false) the client keeps its names
    const plain = await connect(url, { ca: certs.ca, clientId: 'plain-1', username: 'plain', protocolVersion: 5 });
    clients.push(plain);
    assert.equal(await pubackCode(plain, 'devices/plain/t'), 0);
  } finally {
    await endAll(...clients);
    vireo?.kill('SIGKILL');
    await vireo?.waitExit(5000).catch(() => undefined);
    certs.remove();
  }
});

/**
 * PROXY protocol v1 and v2 on a real node's TCP and TLS listeners (EMQX's
 * listeners.*.proxy_protocol), as a load balancer sends it: the header's source address is
 * what bans, ACL `ipaddr` rules and the client list see; a connection without a header is
 * closed and logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';
import { makeCerts } from './certs.js';
import { apiNodeEnv } from './api-node.js';
import { freePort } from './harness.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { ctl } from './ctl-run.js';

const v1 = (src: string, fam = 'TCP4') => Buffer.from(`PROXY ${fam} ${src} 10.0.0.1 40000 1883\r\n`);

function v2(ip: number[], port: number): Buffer {
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const addr = Buffer.alloc(12);
  Buffer.from(ip).copy(addr, 0);
  Buffer.from([10, 0, 0, 1]).copy(addr, 4);
  addr.writeUInt16BE(port, 8);
  addr.writeUInt16BE(1883, 10);
  return Buffer.concat([sig, Buffer.from([0x21, 0x11, 0x00, 12]), addr]);
}

const connectPacket = (clientId: string) => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 60 });

/** Sends `header` then a CONNECT (over TLS after the header when `tlsOpts`); resolves with the CONNACK code, or 'closed'. */
function attempt(port: number, header: Buffer | undefined, clientId: string, tlsOpts?: tls.ConnectionOptions): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const raw = net.connect(port, '127.0.0.1', () => {
      if (header) raw.write(header);
      const s = tlsOpts ? tls.connect({ ...tlsOpts, socket: raw }, () => s.write(connectPacket(clientId))) : raw;
      if (!tlsOpts) raw.write(connectPacket(clientId));
      s.once('data', (d: Buffer) => {
        resolve(d[0] === 0x20 ? d[3]! : 'closed');
        s.destroy();
      });
      s.once('close', () => resolve('closed'));
      s.once('error', () => resolve('closed'));
    });
    raw.once('error', () => resolve('closed'));
  });
}

test('PROXY protocol v1/v2 on TCP and TLS: bans and ACL ipaddr rules see the source address; no header, no connection', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-proxy-'));
  const certs = makeCerts();
  const aclFile = path.join(dir, 'acl.yaml');
  writeFileSync(aclFile, '- {permission: allow, who: {ipaddr: "198.51.100.0/24"}, action: subscribe, topics: ["#"]}\n- {permission: deny, action: subscribe}\n');
  const { mqttPort, httpPort, env: base } = await apiNodeEnv(dir);
  const sslPort = await freePort();
  const env = {
    ...base,
    VIREO_DURABLE_STORAGE__BACKEND: 'memory',
    VIREO_LISTENERS__TCP__DEFAULT__PROXY_PROTOCOL: 'true',
    VIREO_LISTENERS__TCP__DEFAULT__PROXY_PROTOCOL_TIMEOUT: '1s',
    VIREO_LISTENERS__SSL__DEFAULT__BIND: `127.0.0.1:${sslPort}`,
    VIREO_LISTENERS__SSL__DEFAULT__PROXY_PROTOCOL: 'true',
    VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE: certs.certFile,
    VIREO_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE: certs.keyFile,
    VIREO_AUTHORIZATION__SOURCES: `[{type: file, path: "${aclFile}"}]`,
  };
  let vireo: VireoProcess | undefined;
  try {
    vireo = spawnVireo({ env });
    await vireo.waitForLog('started', 30_000);
    const ban = await ctl(env, ['banned', 'add', 'peerhost', '203.0.113.7']);
    assert.equal(ban.code, 0, ban.stderr);

    // the balancer says the device is 203.0.113.7 (banned) or 198.51.100.9 (not)
    assert.equal(await attempt(mqttPort, v1('203.0.113.7'), 'v1-banned'), 5);
    assert.equal(await attempt(mqttPort, v2([203, 0, 113, 7], 40001), 'v2-banned'), 5);
    assert.equal(await attempt(mqttPort, v1('2001:db8::7', 'TCP6'), 'v1-v6'), 0);
    assert.equal(await attempt(sslPort, v1('203.0.113.7'), 'tls-banned', { ca: certs.ca, servername: 'localhost' }), 5);
    assert.equal(await attempt(sslPort, v2([198, 51, 100, 9], 40002), 'tls-ok', { ca: certs.ca, servername: 'localhost' }), 0);
    assert.ok(vireo.logs().some((l) => l.msg === 'Banned client refused' && l.clientid === 'tls-banned' && String(l.peer).startsWith('203.0.113.7:')));

    // a connected client is listed with the header's address, and the ACL's ipaddr rule applies to it
    const got = await new Promise<{ ip: string; granted: number[] }>((resolve, reject) => {
      const s = net.connect(mqttPort, '127.0.0.1', () => {
        s.write(Buffer.concat([v2([198, 51, 100, 9], 40003), connectPacket('held')]));
        s.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 0 }] }));
      });
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p) => {
        if (p.cmd !== 'suback') return;
        fetch(`http://127.0.0.1:${httpPort}/api/v5/clients/held`, { headers: { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` } })
          .then((r) => r.json() as Promise<{ ip_address: string }>)
          .then((c) => {
            resolve({ ip: c.ip_address, granted: p.granted as number[] });
            s.destroy();
          }, reject);
      });
      s.on('data', (d) => parser.parse(d));
      s.once('error', reject);
    });
    assert.deepEqual(got, { ip: '198.51.100.9', granted: [0] });

    // no header: closed (after the timeout for silence, at once for anything else), logged
    assert.equal(await attempt(mqttPort, undefined, 'no-header'), 'closed');
    await vireo.waitForLog('PROXY protocol header refused');
  } finally {
    vireo?.kill('SIGKILL');
    await vireo?.waitExit(5000).catch(() => undefined);
    certs.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

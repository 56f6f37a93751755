/**
 * Bans by network (EMQX's `as: peerhost_net`) and addresses in one spelling, on a real node
 * listening on IPv4 and IPv6: a CIDR ban kicks and refuses the clients inside it and no other,
 * an IPv6 address banned in a long spelling holds for the short one, bad networks are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { apiNodeEnv } from './api-node.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { connackCode, ctl } from './ctl-run.js';
import { endAll } from './harness.js';

async function online(url: string, clientId: string): Promise<{ c: MqttClient; kicked: Promise<number | undefined> }> {
  const c = mqtt.connect(url, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return { c, kicked: new Promise((resolve) => c.once('disconnect', (p) => resolve(p.reasonCode))) };
}

test('bans by CIDR (peerhost_net) and by IPv6 address in any spelling: kicks, refusals, lifting, bad networks', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-ban-net-'));
  const { mqttPort, httpPort, env: base } = await apiNodeEnv(dir);
  // one dual-stack listener: 127.0.0.1 arrives as ::ffff:127.0.0.1, ::1 as ::1
  const env = { ...base, VIREO_LISTENERS__TCP__DEFAULT__BIND: `[::]:${mqttPort}`, VIREO_DURABLE_STORAGE__BACKEND: 'memory' };
  const v4 = `mqtt://127.0.0.1:${mqttPort}`;
  const v6 = `mqtt://[::1]:${mqttPort}`;
  let vireo: VireoProcess | undefined;
  const clients: MqttClient[] = [];
  const ok = async (args: string[]) => {
    const r = await ctl(env, args);
    assert.equal(r.code, 0, `ctl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  try {
    vireo = spawnVireo({ env });
    await vireo.waitForLog('started', 30_000);
    const a = await online(v4, 'on-v4');
    const b = await online(v6, 'on-v6');
    clients.push(a.c, b.c);

    // a network given with host bits is kept as the network
    assert.match(await ok(['banned', 'add', 'peerhost_net', '127.1.2.3/8', '--reason', 'lab']), /banned peerhost_net 127\.0\.0\.0\/8/);
    assert.equal(await a.kicked, 0x98, 'the IPv4 client inside 127.0.0.0/8 is kicked');
    assert.equal(await connackCode(v4, { clientId: 'again-v4', protocolVersion: 5 }), 0x8a);
    assert.equal(await connackCode(v4, { clientId: 'again-v4', protocolVersion: 4 }), 5);
    assert.equal(await connackCode(v6, { clientId: 'still-v6', protocolVersion: 5 }), 0, 'IPv6 ::1 is not in 127.0.0.0/8');
    assert.ok(vireo.logs().some((l) => l.msg === 'Banned client refused' && l.as === 'peerhost_net' && l.who === '127.0.0.0/8'));

    // an IPv6 address in its long spelling bans the short one
    assert.match(await ok(['banned', 'add', 'peerhost', '0:0:0:0:0:0:0:1']), /banned peerhost ::1 /);
    assert.equal(await b.kicked, 0x98);
    assert.equal(await connackCode(v6, { clientId: 'again-v6', protocolVersion: 5 }), 0x8a);
    const list = await ok(['banned', 'list']);
    assert.match(list, /peerhost_net\s+127\.0\.0\.0\/8/);
    assert.match(list, /peerhost\s+::1\s/);

    // bad networks and addresses are refused with the reason; nothing is added
    const api = (body: unknown) =>
      fetch(`http://127.0.0.1:${httpPort}/api/v5/banned`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const who of ['10.0.0.0/33', '2001:db8::/129', 'not-a-net', '10.0.0.0/8/1']) {
      const r = await api({ as: 'peerhost_net', who });
      assert.equal(r.status, 400, who);
      assert.match(((await r.json()) as { message: string }).message, /is not a network \(CIDR\)/);
    }
    assert.equal((await api({ as: 'peerhost', who: '300.1.1.1' })).status, 400);
    assert.equal((await api({ as: 'peerhost_net', who: '2001:DB8:0::/32' })).status, 200);
    assert.equal((await api({ as: 'peerhost_net', who: '2001:db8::5/32' })).status, 400, 'the same network in another spelling already exists');

    // lifted by any spelling
    await ok(['banned', 'del', 'peerhost_net', '127.9.9.9/8']);
    await ok(['banned', 'del', 'peerhost', '::0:1']);
    assert.equal(await connackCode(v4, { clientId: 'back-v4', protocolVersion: 5 }), 0);
    assert.equal(await connackCode(v6, { clientId: 'back-v6', protocolVersion: 5 }), 0);
  } finally {
    await endAll(...clients);
    vireo?.kill('SIGKILL');
    await vireo?.waitExit(5000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

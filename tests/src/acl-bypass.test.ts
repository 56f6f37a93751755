/**
 * The ACL bypasses of the CVE-2017-7650 class, tried with real clients on a real node: a
 * client id `+` against a `devices/${clientid}/#` publish rule, a username `#` against a
 * `cmd/%u` subscribe rule, and a `#` subscriber against `deny subscribe secret/#` (retained,
 * live, and queued for its persistent session while it was away).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { connect, collect, endAll } from './harness.js';
import { apiNodeEnv, metric } from './api-node.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { pubackCode, subackCodes } from './mqtt-codes.js';

const RULES = `
- {permission: allow, action: all, topics: ["devices/\${clientid}/#"]}
- {permission: allow, action: subscribe, topics: ["cmd/%u"]}
- {permission: deny, action: subscribe, topics: ["secret/#", "cmd/#"]}
- {permission: allow, action: subscribe}
- {permission: allow, action: publish, topics: ["secret/#", "cmd/#", "public/#"]}
- {permission: deny}
`;

/** Every message `c` gets until one on `sentinel` (same publisher and QoS: it comes after the others). */
function until(c: MqttClient, sentinel: string, ms = 10_000): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.removeListener('message', on);
      reject(new Error(`no ${sentinel} within ${ms} ms; got ${JSON.stringify(got)}`));
    }, ms);
    const on = (topic: string) => {
      if (topic === sentinel) {
        clearTimeout(timer);
        c.removeListener('message', on);
        resolve(got);
      } else got.push(topic);
    };
    c.on('message', on);
  });
}

test('ACL bypasses: client id +, username #, a # subscriber against a subscribe deny (retained, live, queued)', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-acl-bypass-'));
  const aclFile = path.join(dir, 'acl.yaml');
  writeFileSync(aclFile, RULES);
  const { mqttPort, httpPort, env: base } = await apiNodeEnv(dir);
  const env = { ...base, VIREO_DURABLE_STORAGE__BACKEND: 'memory', VIREO_AUTHORIZATION__SOURCES: `[{type: file, path: "${aclFile}"}]` };
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  let vireo: VireoProcess | undefined;
  const clients: MqttClient[] = [];
  const open = async (clientId: string, username?: string, extra: object = {}) => {
    const c = await connect(url, { clientId, username, protocolVersion: 5, ...extra });
    clients.push(c);
    return c;
  };
  try {
    vireo = spawnVireo({ env });
    await vireo.waitForLog('started', 30_000);

    // client id "+": devices/${clientid}/# must not become devices/+/#
    const c2 = await open('c2');
    assert.deepEqual(await subackCodes(c2, ['devices/c2/#']), [1]);
    for (const id of ['+', '#']) {
      const attacker = await open(id);
      assert.equal(await pubackCode(attacker, 'devices/c2/cmd'), 0x87, `client id ${id} publishes into another device's tree`);
    }
    const own = until(c2, 'devices/c2/end');
    assert.equal(await pubackCode(c2, 'devices/c2/end'), 0);
    assert.deepEqual(await own, [], 'c2 got a message published by + or #');

    // username "#": cmd/%u must not become cmd/#
    const alice = await open('alice-1', 'alice');
    assert.deepEqual(await subackCodes(alice, ['cmd/alice']), [1]);
    const hash = await open('h1', '#');
    assert.deepEqual(await subackCodes(hash, ['cmd/alice', 'cmd/#', 'cmd/+']), [0x87, 0x87, 0x87]);
    const plus = await open('p1', '+');
    assert.deepEqual(await subackCodes(plus, ['cmd/alice']), [0x87]);

    // a # subscriber against deny subscribe secret/#: not retained, not live, not queued while away
    const pub = await open('pub');
    await pub.publishAsync('secret/plans', 'retained secret', { qos: 1, retain: true });
    await pub.publishAsync('public/news', 'retained news', { qos: 1, retain: true });
    const watcher = await open('watcher', 'w', { clean: false, properties: { sessionExpiryInterval: 300 } });
    const retained = collect(watcher, 1, 10_000);
    assert.deepEqual(await subackCodes(watcher, ['#']), [1]);
    assert.deepEqual(await subackCodes(watcher, ['secret/#']), [0x87]);
    assert.deepEqual(
      (await retained).map((m) => m.topic),
      ['public/news'],
    );
    const live = until(watcher, 'public/end');
    for (const t of ['secret/plans', 'secret/a/b', 'cmd/alice', 'public/x', 'public/end']) assert.equal(await pubackCode(pub, t), 0);
    assert.deepEqual(await live, ['public/x']);

    await endAll(watcher);
    for (const t of ['secret/while-away', 'public/while-away', 'public/end2']) assert.equal(await pubackCode(pub, t), 0);
    // listening before CONNACK: the queued messages follow it at once
    const back = mqtt.connect(url, { clientId: 'watcher', username: 'w', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 }, reconnectPeriod: 0 });
    clients.push(back);
    const queued = until(back, 'public/end2');
    assert.deepEqual(await queued, ['public/while-away']);

    assert.equal(await metric(httpPort, 'vireo_authorization_delivery_denied'), 5); // retained, 3 live, 1 queued
  } finally {
    await endAll(...clients);
    vireo?.kill('SIGKILL');
    await vireo?.waitExit(5000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

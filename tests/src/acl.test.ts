/**
 * Authorization from an ACL file on a real node: rules with placeholders and `eq`, superuser
 * bypass, SUBACK/PUBACK codes in v5 and 3.1.1, the acl_denied drop, reload through
 * `vireo ctl acl reload` (a bad file keeps the rules in force), a bad file at start, and
 * `deny_action: disconnect`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { MqttClient } from 'mqtt';
import { AccessControl, Acl, MemoryRecordTables } from '@vireo/access';
import { connect, collect, endAll, startBroker } from './harness.js';
import { apiNodeEnv, metric } from './api-node.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { connackCode, ctl } from './ctl-run.js';
import { pubackCode, subackCodes } from './mqtt-codes.js';

const T = { timeout: 120_000 };

const RULES = `# as EMQX's default acl.conf, plus per-device topics
- {permission: allow, who: {username: admin}, action: subscribe, topics: ["$SYS/#"]}
- {permission: deny, action: subscribe, topics: ["$SYS/#", {eq: "#"}]}
- {permission: allow, action: publish, topics: ["devices/%c/#"]}
- {permission: allow, action: subscribe, topics: ["devices/+/status", "cmd/%u"]}
- {permission: allow, who: {ipaddr: "10.0.0.0/8"}}
- {permission: deny}
`;

test('ACL file: placeholders, eq, superuser bypass, v5 and 3.1.1 codes, acl_denied drops, ctl acl reload, bad files', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-acl-'));
  const aclFile = path.join(dir, 'acl.yaml');
  writeFileSync(aclFile, RULES);
  const { mqttPort, httpPort, env: base } = await apiNodeEnv(dir);
  const env = {
    ...base,
    VIREO_DURABLE_STORAGE__BACKEND: 'memory',
    VIREO_AUTHENTICATION: '[{mechanism: password_based, backend: built_in_database}]',
    VIREO_AUTHORIZATION__SOURCES: `[{type: file, path: "${aclFile}"}]`,
  };
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  let vireo: VireoProcess | undefined;
  const clients: MqttClient[] = [];
  try {
    // a bad rule file stops start-up naming the key
    writeFileSync(path.join(dir, 'bad.yaml'), '- {permission: allow, action: read}\n');
    const bad = spawnVireo({ env: { ...env, VIREO_AUTHORIZATION__SOURCES: `[{type: file, path: "${path.join(dir, 'bad.yaml')}"}]` } });
    assert.equal((await bad.waitExit(15_000)).code, 2);
    assert.match(bad.stderr(), /authorization\.sources\[0\]\.path: .*bad\.yaml: rule 1: action must be publish, subscribe or all/);

    vireo = spawnVireo({ env });
    await vireo.waitForLog('started', 15_000);
    const auth = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}`, 'content-type': 'application/json' };
    for (const [user_id, is_superuser] of [
      ['root', true],
      ['u1', false],
      ['u3', false],
    ] as const) {
      const r = await fetch(`http://127.0.0.1:${httpPort}/api/v5/authentication/password_based:built_in_database/users`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ user_id, password: 'pw', is_superuser }),
      });
      assert.equal(r.status, 201);
    }

    const root = await connect(url, { clientId: 'root-1', username: 'root', password: 'pw', protocolVersion: 5 });
    const c1 = await connect(url, { clientId: 'c1', username: 'u1', password: 'pw', protocolVersion: 5 });
    const c3 = await connect(url, { clientId: 'c3', username: 'u3', password: 'pw', protocolVersion: 4 });
    clients.push(root, c1, c3);

    // SUBSCRIBE: superuser bypasses; %u; {eq: "#"} and $SYS denied; no match → the final deny
    assert.deepEqual(await subackCodes(root, ['#']), [1]);
    const granted = await subackCodes(c1, ['devices/+/status', 'cmd/u1', 'cmd/u2', '#', '$SYS/brokers', '$share/g/devices/+/status', 'devices/#']);
    assert.deepEqual(granted, [1, 1, 0x87, 0x87, 0x87, 1, 0x87]);
    assert.deepEqual(await subackCodes(c3, ['#']), [0x80]);

    // PUBLISH: %c; v5 gets PUBACK 0x87, 3.1.1 a plain PUBACK; denied messages reach nobody
    const got = collect(root, 2, 10_000);
    assert.equal(await pubackCode(c1, 'devices/c2/status'), 0x87);
    assert.equal(await pubackCode(c3, 'devices/c9/x'), 0);
    assert.equal(await pubackCode(c1, 'devices/c1/status'), 0);
    assert.equal(await pubackCode(c3, 'devices/c3/x'), 0);
    assert.deepEqual(
      (await got).map((m) => m.topic),
      ['devices/c1/status', 'devices/c3/x'],
    );

    const text = await (await fetch(`http://127.0.0.1:${httpPort}/api/v5/prometheus/stats`)).text();
    assert.match(text, /vireo_messages_dropped\{reason="acl_denied",node="[^"]+"\} 2\n/);
    assert.equal(await metric(httpPort, 'vireo_authorization_deny'), 7);
    assert.equal(await metric(httpPort, 'vireo_authorization_superuser'), 1);
    assert.equal(await metric(httpPort, 'vireo_authorization_matched_deny'), 7);
    assert.ok(vireo.logs().some((l) => l.msg === 'Publish denied by authorization' && l.clientid === 'c1' && l.topic === 'devices/c2/status'));
    assert.ok(vireo.logs().some((l) => l.msg === 'Authorization denied' && l.clientid === 'c1' && l.topic === 'cmd/u2' && l.action === 'subscribe'));

    // reload: any device topic may be published now
    writeFileSync(aclFile, '- {permission: allow, action: publish, topics: ["devices/#"]}\n- {permission: deny}\n');
    const reload = await ctl(env, ['acl', 'reload']);
    assert.equal(reload.code, 0, reload.stderr);
    assert.match(reload.stdout, /ACL reloaded: 2 rule\(s\)/);
    assert.equal(await pubackCode(c1, 'devices/c2/status'), 0);
    // a bad file is refused and the rules in force stay
    writeFileSync(aclFile, '- {permission: maybe}\n');
    const refused = await ctl(env, ['acl', 'reload']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /rule 1: permission must be allow or deny/);
    assert.equal(await pubackCode(c1, 'devices/c2/status'), 0);
    assert.equal(await pubackCode(c1, 'other/topic'), 0x87);
  } finally {
    await endAll(...clients);
    vireo?.kill('SIGKILL');
    await vireo?.waitExit(5000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deny_action disconnect: a denied PUBLISH ends the connection with DISCONNECT 0x87; a ban by address kicks and refuses', { timeout: 120_000 }, async () => {
  const access = new AccessControl({
    authentication: [],
    authorization: { noMatch: 'deny', denyAction: 'disconnect', sources: [{ type: 'file', load: () => Acl.compile([{ permission: 'allow', topics: ['open/#'] }], 'test') }] },
    tables: new MemoryRecordTables(),
    logger: pino({ level: 'silent' }),
  });
  const tb = await startBroker({ hooks: access.hooks() });
  access.attach(tb.broker);
  let c: MqttClient | undefined;
  let c2: MqttClient | undefined;
  try {
    c = await connect(tb.url, { clientId: 'd1', protocolVersion: 5 });
    assert.equal(await pubackCode(c, 'open/1'), 0);
    const gone = new Promise<number | undefined>((resolve) => c!.once('disconnect', (p) => resolve(p.reasonCode)));
    c.publish('closed/1', 'x', { qos: 1 });
    assert.equal(await gone, 0x87);
    assert.equal(tb.broker.stats.aclDenied, 1);

    // a ban by address kicks who is connected from it, and refuses the next CONNECT
    c2 = await connect(tb.url, { clientId: 'd2', protocolVersion: 5 });
    const kicked = new Promise<number | undefined>((resolve) => c2!.once('disconnect', (p) => resolve(p.reasonCode)));
    assert.equal(access.ban({ as: 'peerhost', who: '127.0.0.1', by: 'test', reason: '', at: Date.now(), until: Date.now() + 60_000 }), 1);
    assert.equal(await kicked, 0x98);
    assert.equal(await connackCode(tb.url, { clientId: 'd3', protocolVersion: 5 }), 0x8a);
    assert.equal(access.counters.bannedRefused, 1);
  } finally {
    c?.end(true);
    c2?.end(true);
    access.close();
    await tb.close();
  }
});

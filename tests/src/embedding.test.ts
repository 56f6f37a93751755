/**
 * The embedding API: createBroker(config), hooks.authenticate/authorize, events,
 * publishMessage, close() — and examples/embed.mjs run as a real process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { IDisconnectPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { createBroker } from '@vireo/broker';
import type { ClientInfo, AuthorizeAction, Message, SubOptions, DropReason } from '@vireo/broker';
import { startBroker, connect, collect, endAll, quietFor, waitFor, sleep, freePort, within } from './harness.js';
import { dieWithParent } from './orphans.js';
import { RawClient, rawConnect } from './raw-client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('createBroker(config) starts a node in-process that MQTT clients can use; close() releases the port', { timeout: 10_000 }, async () => {
  const port = await freePort();
  const broker = await createBroker({
    nodeName: 'vireo@embedded-test',
    listeners: [{ type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port, maxConnections: 100 }],
    logger: pino({ level: 'silent' }),
  });
  let c;
  try {
    assert.deepEqual(broker.addresses(), [{ name: 'tcp:default', type: 'tcp', host: '127.0.0.1', port }]);
    c = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'app-user' });
    await c.subscribeAsync('hello');
    const got = collect(c, 1);
    await c.publishAsync('hello', 'world', { qos: 1 });
    assert.equal((await got)[0].payload, 'world');
    assert.equal(broker.listenerStats()[0].connections, 1);
  } finally {
    await endAll(c);
    await broker.close();
    await broker.close(); // a second close is harmless
  }
  // the port is free again
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer().once('error', reject);
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
});

test('hooks.authorize: denied PUBLISH gets PUBACK 0x87 (v5) and is not routed; denied SUBSCRIBE gets 0x80 / 0x87', { timeout: 10_000 }, async () => {
  const calls: [string, AuthorizeAction, string][] = [];
  const tb = await startBroker({
    hooks: {
      authorize: (client: ClientInfo, action: AuthorizeAction, topic: string) => {
        calls.push([client.clientId, action, topic]);
        if (action === 'subscribe') return !topic.startsWith('secret');
        return topic.startsWith(`devices/${client.username}/`);
      },
    },
  });
  let spy, a4, a5;
  try {
    spy = await connect(tb.url, { clientId: 'spy', username: 'spy' });
    const [granted] = await spy.subscribeAsync(['devices/#']);
    assert.equal(granted.qos, 0);
    const seen: string[] = [];
    spy.on('message', (t, p) => seen.push(`${t}=${p}`));

    // v5: the PUBACK says Not authorized
    a5 = await connect(tb.url, { clientId: 'a5', username: 'alice', protocolVersion: 5 });
    await a5.publishAsync('devices/alice/t', 'ok5', { qos: 1 });
    const denied = await new Promise<number | undefined>((resolve) => {
      a5!.publish('devices/bob/t', 'stolen', { qos: 1 }, (err?: Error, packet?: unknown) =>
        resolve((err as { code?: number } | undefined)?.code ?? (packet as { reasonCode?: number } | undefined)?.reasonCode),
      );
    });
    assert.equal(denied, 0x87);
    // 3.1.1: acknowledged (no way to say no) but not delivered
    a4 = await connect(tb.url, { clientId: 'a4', username: 'alice', protocolVersion: 4 });
    await a4.publishAsync('devices/bob/t', 'stolen4', { qos: 1 });
    await a4.publishAsync('devices/alice/t', 'ok4', { qos: 1 });
    await waitFor(() => seen.length >= 2, 'allowed messages');
    await quietFor(100, () => seen.length === 2, 'the stolen messages were not delivered');
    assert.deepEqual(seen.sort(), ['devices/alice/t=ok4', 'devices/alice/t=ok5']);

    // SUBSCRIBE: per-filter answers (raw clients: MQTT.js turns any failure code into an error)
    for (const protocolVersion of [4, 5] as const) {
      const { client } = await rawConnect(tb.port, { protocolVersion, clientId: `r${protocolVersion}` });
      client.send({
        cmd: 'subscribe',
        messageId: 7,
        subscriptions: [
          { topic: 'public/x', qos: 1 },
          { topic: 'secret/x', qos: 1 },
        ],
      });
      const suback = (await client.next('suback')) as ISubackPacket;
      client.destroy();
      assert.deepEqual(suback.granted, protocolVersion === 5 ? [1, 0x87] : [1, 0x80]);
    }
    assert.ok(calls.some(([id, action, topic]) => id === 'a5' && action === 'publish' && topic === 'devices/bob/t'));
    assert.ok(calls.some(([id, action, topic]) => id === 'r4' && action === 'subscribe' && topic === 'secret/x'));
    assert.equal(tb.broker.stats.aclDenied, 4);
  } finally {
    await endAll(spy, a4, a5);
    await tb.close();
  }
});

test('an async hooks.authorize keeps each publisher’s order', { timeout: 10_000 }, async () => {
  const tb = await startBroker({
    hooks: {
      // answers come back out of order: later ones sooner
      authorize: async (_c, _a, topic) => {
        const n = Number(topic.split('/')[1] ?? 0);
        await sleep(n % 2 === 0 ? 30 : 1);
        return !topic.endsWith('/deny');
      },
    },
  });
  let sub, pub;
  try {
    sub = await connect(tb.url, { clientId: 'sub', protocolVersion: 5 });
    await sub.subscribeAsync('o/#', { qos: 1 });
    pub = await connect(tb.url, { clientId: 'pub', protocolVersion: 5 });
    const got = collect(sub, 10);
    for (let i = 0; i < 10; i++) pub.publish(`o/${i}`, String(i), { qos: 1 });
    pub.publish('o/10/deny', 'x', { qos: 1 });
    const msgs = await got;
    assert.deepEqual(
      msgs.map((m) => m.payload),
      ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    );
    await waitFor(() => tb.broker.stats.aclDenied === 1, 'the denied publish counted');
  } finally {
    await endAll(sub, pub);
    await tb.close();
  }
});

test('events: client.connected/disconnected, session.subscribed/unsubscribed, message.publish/delivered/dropped', { timeout: 10_000 }, async () => {
  const tb = await startBroker({ mqtt: { mqueueStoreQos0: false } });
  const log: string[] = [];
  const b = tb.broker;
  b.on('client.connected', (c: ClientInfo) => log.push(`connected ${c.clientId} v${c.protocolVersion} ${c.username ?? '-'} ${c.listener}`));
  b.on('client.disconnected', (c: ClientInfo, reason: string) => log.push(`disconnected ${c.clientId} ${reason}`));
  b.on('session.subscribed', (c: ClientInfo, filter: string, o: SubOptions) => log.push(`subscribed ${c.clientId} ${filter} q${o.qos}`));
  b.on('session.unsubscribed', (c: ClientInfo, filter: string) => log.push(`unsubscribed ${c.clientId} ${filter}`));
  b.on('message.publish', (m: Message) => m.from && log.push(`publish ${m.from} ${m.topic} ${m.payload}`));
  b.on('message.delivered', (clientId: string, m: Message) => log.push(`delivered ${clientId} ${m.topic}`));
  b.on('message.dropped', (m: Message, reason: DropReason) => log.push(`dropped ${m.topic} ${reason}`));
  let c, away;
  try {
    c = await connect(tb.url, { clientId: 'evt', username: 'eve', protocolVersion: 5 });
    await c.subscribeAsync('e/1', { qos: 1 });
    const got = collect(c, 1);
    await c.publishAsync('e/1', 'one', { qos: 1 });
    await got;
    await c.unsubscribeAsync('e/1');
    // an offline persistent subscriber: a QoS 0 message for it is dropped (mqueueStoreQos0 false)
    away = await connect(tb.url, { clientId: 'away', clean: false });
    await away.subscribeAsync('e/2', { qos: 1 });
    await away.endAsync();
    away = undefined;
    await c.publishAsync('e/2', 'zero', { qos: 0 });
    await c.publishAsync('e/none', 'nobody', { qos: 1 });
    await c.endAsync();
    c = undefined;
    await waitFor(() => log.includes('disconnected evt normal'), 'disconnected event');
    assert.deepEqual(log, [
      'connected evt v5 eve tcp:default',
      'subscribed evt e/1 q1',
      'publish evt e/1 one',
      'delivered evt e/1',
      'unsubscribed evt e/1',
      'connected away v4 - tcp:default',
      'subscribed away e/2 q1',
      'disconnected away normal',
      'publish evt e/2 zero',
      'dropped e/2 no_connection',
      'publish evt e/none nobody',
      'dropped e/none no_subscribers',
      'disconnected evt normal',
    ]);
  } finally {
    await endAll(c, away);
    await tb.close();
  }
});

test('publishMessage: the application publishes; QoS, retain and v5 properties reach subscribers', { timeout: 10_000 }, async () => {
  const tb = await startBroker();
  let s5, s4, late;
  try {
    s5 = await connect(tb.url, { clientId: 's5', protocolVersion: 5 });
    s4 = await connect(tb.url, { clientId: 's4', protocolVersion: 4 });
    await s5.subscribeAsync('app/#', { qos: 2 });
    await s4.subscribeAsync('app/#', { qos: 1 });
    const g5 = collect(s5, 1);
    const g4 = collect(s4, 1);
    const n = tb.broker.publishMessage({
      topic: 'app/config',
      payload: '{"mode":"eco"}',
      qos: 2,
      retain: true,
      properties: { contentType: 'application/json', userProperties: { origin: 'app' }, messageExpiryInterval: 60 },
    });
    assert.equal(n, 2, 'returns how many subscriptions got it');
    const [m5] = await g5;
    const [m4] = await g4;
    assert.equal(m5.payload, '{"mode":"eco"}');
    assert.equal(m5.packet.qos, 2);
    assert.equal(m5.packet.properties?.contentType, 'application/json');
    assert.deepEqual({ ...m5.packet.properties?.userProperties }, { origin: 'app' });
    assert.ok((m5.packet.properties?.messageExpiryInterval ?? 0) > 0);
    assert.equal(m4.packet.qos, 1, 'granted QoS caps the delivery');
    // retained for later subscribers
    late = await connect(tb.url, { clientId: 'late' });
    const gl = collect(late, 1);
    await late.subscribeAsync('app/config', { qos: 1 });
    const [ml] = await gl;
    assert.equal(ml.packet.retain, true);
    assert.equal(ml.payload, '{"mode":"eco"}');
    // no subscriber: 0
    assert.equal(tb.broker.publishMessage({ topic: 'nobody/here', payload: Buffer.from([1, 2, 3]) }), 0);
  } finally {
    await endAll(s5, s4, late);
    await tb.close();
  }
});

test('close(): v5 clients get DISCONNECT 0x8B, 3.1.1 clients are closed, no will is published', { timeout: 10_000 }, async () => {
  const tb = await startBroker();
  const willSeen: string[] = [];
  tb.broker.on('message.publish', (m: Message) => m.topic.startsWith('will/') && willSeen.push(m.topic));
  const r5 = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'r5', will: { topic: 'will/r5', payload: Buffer.from('x'), qos: 0, retain: false } });
  const r4 = await rawConnect(tb.port, { protocolVersion: 4, clientId: 'r4' });
  let js: MqttClient | undefined;
  try {
    js = await connect(tb.url, { clientId: 'js5', protocolVersion: 5 });
    const jsDisconnect = new Promise<number | undefined>((resolve) => js!.once('disconnect', (p: IDisconnectPacket) => resolve(p.reasonCode)));
    const idle = await RawClient.open(tb.port); // connected socket, no CONNECT yet
    await tb.broker.close();
    await r5.client.waitClose(3000);
    await r4.client.waitClose(3000);
    await idle.waitClose(3000);
    const d5 = r5.client.all.find((p) => p.cmd === 'disconnect') as IDisconnectPacket | undefined;
    assert.equal(d5?.reasonCode, 0x8b);
    assert.equal(
      r4.client.all.find((p) => p.cmd === 'disconnect'),
      undefined,
    );
    assert.deepEqual(idle.all, []);
    assert.equal(await jsDisconnect, 0x8b);
    assert.deepEqual(willSeen, []);
    // no new connections
    await assert.rejects(rawConnect(tb.port, { clientId: 'too-late' }));
  } finally {
    r5.client.destroy();
    r4.client.destroy();
    await endAll(js);
    await tb.close();
  }
});

test('examples/embed.mjs runs: auth, authorization, app messages, events, clean stop on SIGTERM', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(root, 'examples/embed.mjs')], {
    cwd: root,
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dieWithParent(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `mqtt://127.0.0.1:${port}`;
  let alice: MqttClient | undefined;
  try {
    await waitFor(() => out.includes(`listening on mqtt://127.0.0.1:${port}`), `example to start (stdout: ${out} stderr: ${err})`, 10_000);
    // wrong password refused with 0x86
    await assert.rejects(connect(url, { protocolVersion: 5, username: 'alice', password: 'nope' }), (e: { code?: number }) => e.code === 0x86);
    alice = await connect(url, { protocolVersion: 5, clientId: 'alice-laptop', username: 'alice', password: 'wonderland' });
    const msgs: IPublishPacket[] = [];
    alice.on('message', (_t, _p, packet) => msgs.push(packet));
    await alice.subscribeAsync(['app/#', 'devices/#'], { qos: 1 });
    // the retained status and a heartbeat from the application
    await waitFor(() => msgs.some((m) => m.topic === 'app/status') && msgs.some((m) => m.topic === 'app/heartbeat'), 'app messages', 3000);
    const status = msgs.find((m) => m.topic === 'app/status')!;
    assert.equal(status.payload.toString(), 'online');
    assert.equal(status.retain, true);
    assert.ok(!Number.isNaN(Date.parse(JSON.parse(msgs.find((m) => m.topic === 'app/heartbeat')!.payload.toString()).at)));
    // alice may publish under devices/alice/, not elsewhere
    await alice.publishAsync('devices/alice/temp', '21.5', { qos: 1 });
    const denied = await new Promise<number | undefined>((resolve) =>
      alice!.publish('devices/bob/temp', '-1', { qos: 1 }, (e?: Error, p?: unknown) =>
        resolve((e as { code?: number } | undefined)?.code ?? (p as { reasonCode?: number } | undefined)?.reasonCode),
      ),
    );
    assert.equal(denied, 0x87);
    await waitFor(() => msgs.some((m) => m.topic === 'devices/alice/temp'), 'own device message');
    assert.equal(msgs.filter((m) => m.topic === 'devices/bob/temp').length, 0);
    await waitFor(() => out.includes('alice-laptop published devices/alice/temp: 21.5'), 'publish event line');
    assert.match(out, /connected alice-laptop \(user alice\) from 127\.0\.0\.1:\d+/);

    // SIGTERM: DISCONNECT 0x8B, exit 0
    const disconnect = new Promise<number | undefined>((resolve) => alice!.once('disconnect', (p: IDisconnectPacket) => resolve(p.reasonCode)));
    child.kill('SIGTERM');
    assert.equal(await disconnect, 0x8b);
    const code = await within(exited, 5000, 'still running');
    assert.equal(code, 0, `exit code (stderr: ${err})`);
    assert.match(out, /SIGTERM: closing/);
    assert.equal(err, '');
  } finally {
    await endAll(alice);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
});

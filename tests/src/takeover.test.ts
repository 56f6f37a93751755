/**
 * Same-clientid reconnect on one node: takeover (clean start 0: session goes on) and discard
 * (clean start 1: fresh session). The old connection gets DISCONNECT 0x8E (v5) and is closed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import type { ClientInfo } from '@vireo/broker';
import { startBroker, connect, collect, endAll, waitFor, quietFor, withBroker } from './harness.js';
import type { TestBroker } from './harness.js';
import { RawClient, rawConnect } from './raw-client.js';
import type { RawConnectOptions } from './raw-client.js';
import { captureLog } from './log-capture.js';

const isPublish = (p: Packet): p is IPublishPacket => p.cmd === 'publish';
const counts = (tb: TestBroker) => tb.broker.listenerStats()[0].shutdownCount;

async function subscribed(port: number, opts: RawConnectOptions, filter: string) {
  const r = await rawConnect(port, opts);
  r.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
  await r.client.next('suback');
  return r;
}

test('takeover: clean start 0 keeps the session; the old connection gets 0x8E and is closed; `takeovered`', { timeout: 10_000 }, async () => {
  const log = captureLog('info');
  const tb = await startBroker({ logger: log.logger });
  const clients: RawClient[] = [];
  const disconnected: [string, string][] = [];
  tb.broker.on('client.disconnected', (info: ClientInfo, reason: string) => disconnected.push([info.clientId, reason]));
  let pub;
  try {
    pub = await connect(tb.url, { clientId: 'pub' });
    for (const protocolVersion of [4, 5] as const) {
      const id = `dev${protocolVersion}`;
      const opts: RawConnectOptions = { protocolVersion, clientId: id, clean: false, properties: protocolVersion === 5 ? { sessionExpiryInterval: 60 } : undefined };
      const old = await subscribed(tb.port, opts, `to/${id}`);
      clients.push(old.client);
      // one message delivered but not acknowledged by the old connection
      await pub.publishAsync(`to/${id}`, 'unacked', { qos: 1 });
      const [first] = [(await old.client.next('publish')) as IPublishPacket];

      const fresh = await rawConnect(tb.port, opts);
      clients.push(fresh.client);
      assert.equal(fresh.connack.sessionPresent, true, 'session present after takeover');
      await old.client.waitClose(2000);
      const dis = old.client.all.find((p) => p.cmd === 'disconnect') as IDisconnectPacket | undefined;
      if (protocolVersion === 5) assert.equal(dis?.reasonCode, 0x8e);
      else assert.equal(dis, undefined);

      // the unacknowledged message moves to the new connection, DUP, same packet id
      const resent = (await fresh.client.next('publish')) as IPublishPacket;
      assert.equal(resent.payload.toString(), 'unacked');
      assert.equal(resent.dup, true);
      assert.equal(resent.messageId, first.messageId);
      fresh.client.send({ cmd: 'puback', messageId: resent.messageId });

      // the subscription is the session's: new messages go to the new connection only
      await pub.publishAsync(`to/${id}`, 'after', { qos: 1 });
      const after = (await fresh.client.next('publish')) as IPublishPacket;
      assert.equal(after.payload.toString(), 'after');
      assert.equal(old.client.all.filter(isPublish).length, 1);
      assert.equal(tb.broker.connection(id)?.peer, `127.0.0.1:${fresh.client.socket.localPort}`);
    }
    assert.equal(counts(tb).takeovered, 2);
    assert.equal(counts(tb).discarded, undefined);
    assert.equal(tb.broker.stats.takeovers, 2);
    const lines = log.lines.filter((l) => JSON.stringify(l).includes('takeovered'));
    assert.ok(
      lines.some((l) => l.clientid === 'dev4'),
      'a log line says takeovered for dev4',
    );
    assert.ok(
      lines.some((l) => l.clientid === 'dev5'),
      'a log line says takeovered for dev5',
    );
    assert.deepEqual(
      disconnected.filter(([id]) => id.startsWith('dev')),
      [
        ['dev4', 'takeovered'],
        ['dev5', 'takeovered'],
      ],
    );
  } finally {
    clients.forEach((c) => c.destroy());
    await endAll(pub);
    await tb.close();
  }
});

test('takeover with MQTT.js: the old v5 client sees DISCONNECT 0x8E, the new one keeps receiving', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    let a, b, pub;
    try {
      const opts = { clientId: 'phone', protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 60 } };
      a = await connect(tb.url, opts);
      await a.subscribeAsync('news', { qos: 1 });
      const gotDisconnect = new Promise<number | undefined>((resolve) => a!.once('disconnect', (p: IDisconnectPacket) => resolve(p.reasonCode)));
      const closed = new Promise<void>((resolve) => a!.once('close', () => resolve()));
      b = await connect(tb.url, opts);
      assert.equal(await gotDisconnect, 0x8e);
      await closed;
      pub = await connect(tb.url, { clientId: 'pub' });
      const got = collect(b, 1);
      await pub.publishAsync('news', 'hello', { qos: 1 });
      assert.equal((await got)[0].payload, 'hello');
    } finally {
      await endAll(a, b, pub);
    }
  }),
);

test('discard: clean start 1 drops the old session; the old connection gets 0x8E and is closed; `discarded`', { timeout: 10_000 }, async () => {
  const log = captureLog('info');
  const tb = await startBroker({ logger: log.logger });
  const clients: RawClient[] = [];
  let pub;
  try {
    pub = await connect(tb.url, { clientId: 'pub' });
    for (const protocolVersion of [4, 5] as const) {
      const id = `disc${protocolVersion}`;
      const persistent: RawConnectOptions = { protocolVersion, clientId: id, clean: false, properties: protocolVersion === 5 ? { sessionExpiryInterval: 60 } : undefined };
      const old = await subscribed(tb.port, persistent, `to/${id}`);
      clients.push(old.client);
      await pub.publishAsync(`to/${id}`, 'unacked', { qos: 1 });
      await old.client.next('publish');

      const fresh = await rawConnect(tb.port, { ...persistent, clean: true });
      clients.push(fresh.client);
      assert.equal(fresh.connack.sessionPresent, false, 'a fresh session');
      await old.client.waitClose(2000);
      const dis = old.client.all.find((p) => p.cmd === 'disconnect') as IDisconnectPacket | undefined;
      if (protocolVersion === 5) assert.equal(dis?.reasonCode, 0x8e);
      else assert.equal(dis, undefined);
      // nothing of the old session: no redelivery, no subscription
      await pub.publishAsync(`to/${id}`, 'after', { qos: 1 });
      await quietFor(150, () => fresh.client.all.filter(isPublish).length === 0, 'no redelivery of the old session');
      assert.equal(tb.broker.session(id)?.subscriptions.size, 0);
    }
    assert.equal(counts(tb).discarded, 2);
    assert.equal(counts(tb).takeovered, undefined);
    assert.equal(tb.broker.stats.discards, 2);
    const lines = log.lines.filter((l) => JSON.stringify(l).includes('discarded'));
    assert.ok(lines.some((l) => l.clientid === 'disc4'));
    assert.ok(lines.some((l) => l.clientid === 'disc5'));
  } finally {
    clients.forEach((c) => c.destroy());
    await endAll(pub);
    await tb.close();
  }
});

test('resuming an offline session is not a takeover; a clean session reconnect of a clean client is not a discard of anything live', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    try {
      const opts: RawConnectOptions = { protocolVersion: 5, clientId: 'calm', clean: false, properties: { sessionExpiryInterval: 60 } };
      const a = await rawConnect(tb.port, opts);
      clients.push(a.client);
      a.client.send({ cmd: 'disconnect' });
      await a.client.waitClose();
      const b = await rawConnect(tb.port, opts);
      clients.push(b.client);
      assert.equal(b.connack.sessionPresent, true);
      assert.equal(counts(tb).takeovered, undefined);
      assert.equal(counts(tb).normal, 1);
      assert.equal(tb.broker.stats.takeovers, 0);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('repeated takeovers of one clientid leave exactly one live connection and one session', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    try {
      const opts: RawConnectOptions = { protocolVersion: 5, clientId: 'flappy', clean: false, properties: { sessionExpiryInterval: 60 } };
      // five connections at once: each CONNECT takes over the previous one
      const all = await Promise.all([1, 2, 3, 4, 5].map(() => rawConnect(tb.port, opts)));
      all.forEach((r) => clients.push(r.client));
      await waitFor(() => all.filter((r) => r.client.closed).length === 4, 'four closed');
      const live = all.filter((r) => !r.client.closed);
      assert.equal(live.length, 1);
      assert.equal(tb.broker.connectionCount, 1);
      assert.equal(tb.broker.sessionCount, 1);
      assert.equal(counts(tb).takeovered, 4);
      // the survivor works
      live[0].client.send({ cmd: 'pingreq' });
      await live[0].client.next('pingresp');
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

/**
 * CONNECT validation, every CONNACK code the broker produces, the session present flag,
 * protocol errors around CONNECT, idle timeout and keepalive (incl. v5 server keep alive).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { AuthenticateRequest } from '@vireo/broker';
import { startBroker, connect, collect, endAll, quietFor, waitFor, sleep, withBroker } from './harness.js';
import type { TestBroker } from './harness.js';
import { RawClient, rawConnect, rawConnectFrame } from './raw-client.js';

function shutdownCount(tb: TestBroker, reason: string): number {
  return tb.broker.listenerStats()[0].shutdownCount[reason] ?? 0;
}

/** Connects with MQTT.js and returns the client with the CONNACK it got. */
function connectWithAck(url: string, opts: IClientOptions): Promise<[MqttClient, IConnackPacket]> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
  return new Promise((resolve, reject) => {
    client.once('connect', (ack) => resolve([client, ack as IConnackPacket]));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

/** Connects with MQTT.js expecting a refusal; returns the error's code (CONNACK return/reason code). */
async function refusedCode(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await connect(url, opts, 3000);
    await endAll(c);
  } catch (err) {
    return (err as { code: number }).code;
  }
  throw new Error('connection was accepted');
}

test('unsupported protocol level gets CONNACK rc 1 and the connection is closed', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    try {
      for (const level of [6, 2, 0]) {
        const c = await RawClient.open(tb.port);
        clients.push(c);
        c.send(rawConnectFrame({ level, clientId: 'c', keepalive: 60 }));
        const ack = (await c.next('connack')) as IConnackPacket;
        assert.equal(ack.returnCode, 1, `level ${level}`);
        assert.equal(ack.sessionPresent, false);
        await c.waitClose(2000);
      }
      // the broker still serves well-behaved clients
      const ok = await connect(tb.url, { protocolVersion: 5 });
      await endAll(ok);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('MQTT 3.1 (MQIsdp, level 3), 3.1.1 and 5 are all accepted on one port', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    try {
      for (const protocolVersion of [3, 4, 5] as const) {
        const { client, connack } = await rawConnect(tb.port, { clientId: `v${protocolVersion}`, protocolVersion });
        clients.push(client);
        assert.equal(protocolVersion === 5 ? connack.reasonCode : connack.returnCode, 0);
        assert.equal(tb.broker.connection(`v${protocolVersion}`)?.protocolVersion, protocolVersion);
      }
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('empty clientid: v5 gets an assigned identifier in CONNACK', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    let c, d;
    try {
      let ack;
      [c, ack] = await connectWithAck(tb.url, { protocolVersion: 5, clientId: '' });
      const assigned = ack.properties?.assignedClientIdentifier;
      assert.ok(assigned && assigned.length > 0, 'CONNACK has an Assigned Client Identifier');
      // the broker knows the client by that id
      assert.deepEqual(tb.broker.connectedClientIds(), [assigned]);
      // and a second client without id gets a different one
      let ack2;
      [d, ack2] = await connectWithAck(tb.url, { protocolVersion: 5, clientId: '' });
      assert.equal(tb.broker.connectionCount, 2);
      assert.notEqual(ack2.properties?.assignedClientIdentifier, assigned);
      // a client that sent an id gets none assigned
      const named = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'named' });
      named.client.destroy();
      assert.equal(named.connack.properties?.assignedClientIdentifier, undefined);
      // the raw CONNACK carries the property
      const { client, connack } = await rawConnect(tb.port, { protocolVersion: 5 });
      client.destroy();
      assert.equal(connack.reasonCode, 0);
      assert.match(connack.properties?.assignedClientIdentifier ?? '', /.+/);
    } finally {
      await endAll(c, d);
    }
  }),
);

test('empty clientid: 3.1.1 allowed with clean session, rejected (rc 2) without; 3.1 rejected', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    try {
      const a = await rawConnect(tb.port, { protocolVersion: 4, clean: true });
      clients.push(a.client);
      assert.equal(a.connack.returnCode, 0);
      assert.equal(a.connack.sessionPresent, false);
      // the connection works: a PINGREQ is answered
      a.client.send({ cmd: 'pingreq' });
      await a.client.next('pingresp');

      // mqtt-packet will not even encode these, so build the bytes
      const b = await RawClient.open(tb.port);
      clients.push(b);
      b.send(rawConnectFrame({ level: 4, flags: 0x00, clientId: '' }));
      assert.equal(((await b.next('connack')) as IConnackPacket).returnCode, 2);
      await b.waitClose(2000);
      assert.equal(b.all.length, 1);

      const c = await RawClient.open(tb.port);
      clients.push(c);
      c.send(rawConnectFrame({ protocolName: 'MQIsdp', level: 3, flags: 0x02, clientId: '' }));
      assert.equal(((await c.next('connack')) as IConnackPacket).returnCode, 2);
      await c.waitClose(2000);

      assert.equal(tb.broker.connectionCount, 1);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('clientid longer than max_clientid_len: rc 2 (3.1.1), 0x85 (v5); 3.1 ids over 23 chars rejected', { timeout: 10_000 }, async () => {
  const tb = await startBroker({ mqtt: { maxClientidLen: 10 } });
  try {
    assert.equal(await refusedCode(tb.url, { protocolVersion: 4, clientId: 'x'.repeat(11) }), 2);
    assert.equal(await refusedCode(tb.url, { protocolVersion: 5, clientId: 'x'.repeat(11) }), 0x85);
    // exactly the limit is fine
    const ok = await connect(tb.url, { protocolVersion: 5, clientId: 'y'.repeat(10) });
    await endAll(ok);
  } finally {
    await tb.close();
  }
  const tb2 = await startBroker();
  const clients: RawClient[] = [];
  try {
    const long = await rawConnect(tb2.port, { protocolVersion: 3, clientId: 'z'.repeat(24) });
    clients.push(long.client);
    assert.equal(long.connack.returnCode, 2);
    const ok = await rawConnect(tb2.port, { protocolVersion: 3, clientId: 'z'.repeat(23) });
    clients.push(ok.client);
    assert.equal(ok.connack.returnCode, 0);
  } finally {
    clients.forEach((c) => c.destroy());
    await tb2.close();
  }
});

test('hooks.authenticate: bad credentials rc 4 / 0x86, not authorized rc 5 / 0x87, default 0x87', { timeout: 10_000 }, async () => {
  const seen: AuthenticateRequest[] = [];
  const tb = await startBroker({
    hooks: {
      authenticate: (req) => {
        seen.push(req);
        if (req.username === 'alice' && req.password?.toString() === 'secret') return { ok: true };
        if (req.username === 'banned') return { ok: false, reasonCode: 0x87 };
        if (req.username === 'nobody') return { ok: false };
        return { ok: false, reasonCode: 0x86 };
      },
    },
  });
  try {
    for (const protocolVersion of [4, 5] as const) {
      const v5 = protocolVersion === 5;
      assert.equal(await refusedCode(tb.url, { protocolVersion, username: 'alice', password: 'wrong' }), v5 ? 0x86 : 4);
      assert.equal(await refusedCode(tb.url, { protocolVersion, username: 'banned', password: 'x' }), v5 ? 0x87 : 5);
      assert.equal(await refusedCode(tb.url, { protocolVersion, username: 'nobody' }), v5 ? 0x87 : 5);
      const ok = await connect(tb.url, { protocolVersion, clientId: `alice${protocolVersion}`, username: 'alice', password: 'secret' });
      await endAll(ok);
    }
    // the hook sees what the client sent and where from
    const req = seen.find((r) => r.clientId === 'alice5')!;
    assert.equal(req.username, 'alice');
    assert.equal(req.password?.toString(), 'secret');
    assert.equal(req.protocolVersion, 5);
    assert.match(req.peer, /^127\.0\.0\.1:\d+$/);
    assert.equal(req.listener, 'tcp:default');
    assert.equal(tb.broker.stats.authFailure, 6);
    assert.equal(tb.broker.stats.authSuccess, 2);
    // refused connections never became clients
    assert.equal(tb.broker.stats.connected, 2);
  } finally {
    await tb.close();
  }
});

test('a refused v5 CONNACK carries a reason string; no session is left behind', { timeout: 10_000 }, () =>
  withBroker({ hooks: { authenticate: () => ({ ok: false, reasonCode: 0x86 }) } }, async (tb) => {
    const clients: RawClient[] = [];
    try {
      const { client, connack } = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'r', clean: false, properties: { sessionExpiryInterval: 60 } });
      clients.push(client);
      assert.equal(connack.reasonCode, 0x86);
      assert.equal(connack.sessionPresent, false);
      assert.ok(connack.properties?.reasonString, 'reason string present');
      await client.waitClose(2000);
      assert.equal(tb.broker.session('r'), undefined);
      // request problem information = false: no reason string
      const quiet = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'q', properties: { requestProblemInformation: false } });
      clients.push(quiet.client);
      assert.equal(quiet.connack.reasonCode, 0x86);
      assert.equal(quiet.connack.properties?.reasonString, undefined);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('async authenticate: packets sent right after CONNECT wait for the answer and are processed in order', { timeout: 10_000 }, async () => {
  const tb = await startBroker({
    hooks: {
      authenticate: async (req) => {
        await sleep(150);
        return req.username === 'ok' ? { ok: true } : { ok: false, reasonCode: 0x86 };
      },
    },
  });
  const clients: RawClient[] = [];
  try {
    // CONNECT, SUBSCRIBE and PUBLISH (to itself) in one write, before any CONNACK
    const c = await RawClient.open(tb.port);
    clients.push(c);
    c.setProtocolVersion(5);
    const frames = Buffer.concat([
      c.encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'early', clean: true, keepalive: 0, username: 'ok' }),
      c.encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'early/t', qos: 1 }] }),
      c.encode({ cmd: 'publish', topic: 'early/t', payload: Buffer.from('hi'), qos: 1, messageId: 2, retain: false, dup: false }),
    ]);
    const started = Date.now();
    c.send(frames);
    const ack = (await c.next('connack')) as IConnackPacket;
    assert.equal(ack.reasonCode, 0);
    assert.ok(Date.now() - started >= 140, 'CONNACK waited for the hook');
    await c.next('suback');
    const puback = await c.next('puback');
    assert.equal((puback as { messageId: number }).messageId, 2);
    const msg = await c.next('publish');
    assert.equal((msg as { payload: Buffer }).payload.toString(), 'hi');
    assert.deepEqual(c.all.map((p) => p.cmd).slice(0, 2), ['connack', 'suback']);

    // refused after the async wait: nothing but CONNACK, then close
    const d = await RawClient.open(tb.port);
    clients.push(d);
    d.setProtocolVersion(5);
    d.send(
      Buffer.concat([
        d.encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'bad', clean: true, keepalive: 0, username: 'no' }),
        d.encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x', qos: 0 }] }),
      ]),
    );
    const nack = (await d.next('connack')) as IConnackPacket;
    assert.equal(nack.reasonCode, 0x86);
    await d.waitClose(2000);
    assert.deepEqual(
      d.all.map((p) => p.cmd),
      ['connack'],
    );
  } finally {
    clients.forEach((c) => c.destroy());
    await tb.close();
  }
});

test('authenticate hook that throws refuses with 0x80 (v5) / rc 3 (3.1.1)', { timeout: 10_000 }, async () => {
  const tb = await startBroker({
    hooks: {
      authenticate: () => {
        throw new Error('auth backend down');
      },
    },
  });
  try {
    assert.equal(await refusedCode(tb.url, { protocolVersion: 5 }), 0x80);
    assert.equal(await refusedCode(tb.url, { protocolVersion: 4 }), 3);
  } finally {
    await tb.close();
  }
});

test('session present flag: false on first persistent connect, true after, false with clean session', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    const open = async (opts: Parameters<typeof rawConnect>[1]) => {
      const r = await rawConnect(tb.port, opts);
      clients.push(r.client);
      return r;
    };
    try {
      // 3.1.1
      let r = await open({ protocolVersion: 4, clientId: 'p4', clean: false });
      assert.equal(r.connack.sessionPresent, false);
      r.client.send({ cmd: 'disconnect' });
      await r.client.waitClose();
      r = await open({ protocolVersion: 4, clientId: 'p4', clean: false });
      assert.equal(r.connack.sessionPresent, true);
      r.client.send({ cmd: 'disconnect' });
      await r.client.waitClose();
      r = await open({ protocolVersion: 4, clientId: 'p4', clean: true });
      assert.equal(r.connack.sessionPresent, false);
      r.client.send({ cmd: 'disconnect' });
      await r.client.waitClose();
      // a clean session ends with its connection
      r = await open({ protocolVersion: 4, clientId: 'p4', clean: false });
      assert.equal(r.connack.sessionPresent, false);

      // v5 with MQTT.js: the flag is what the user sees on the 'connect' event
      const opts = { protocolVersion: 5 as const, clientId: 'p5', clean: false, properties: { sessionExpiryInterval: 60 } };
      let [c, ack] = await connectWithAck(tb.url, opts);
      assert.equal(ack.sessionPresent, false);
      await endAll(c);
      [c, ack] = await connectWithAck(tb.url, opts);
      assert.equal(ack.sessionPresent, true);
      await endAll(c);
      [c, ack] = await connectWithAck(tb.url, { ...opts, clean: true });
      assert.equal(ack.sessionPresent, false);
      await endAll(c);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('second CONNECT is a protocol error: v5 DISCONNECT 0x82, closed, counted as proto_unexpected_c', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    try {
      for (const protocolVersion of [4, 5] as const) {
        const { client } = await rawConnect(tb.port, { protocolVersion, clientId: `twice${protocolVersion}` });
        clients.push(client);
        client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId: `twice${protocolVersion}`, clean: true, keepalive: 0 });
        await client.waitClose(2000);
        const disconnect = client.all.find((p) => p.cmd === 'disconnect') as IDisconnectPacket | undefined;
        if (protocolVersion === 5) assert.equal(disconnect?.reasonCode, 0x82);
        else assert.equal(disconnect, undefined, '3.1.1 has no server DISCONNECT');
        assert.equal(client.all.filter((p) => p.cmd === 'connack').length, 1, 'no second CONNACK');
      }
      await waitFor(() => shutdownCount(tb, 'proto_unexpected_c') === 2, 'proto_unexpected_c = 2');
      assert.equal(tb.broker.connectionCount, 0);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('packets before CONNECT close the connection without any answer', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    try {
      const enc = await RawClient.open(tb.port);
      clients.push(enc);
      const early = [
        enc.encode({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }),
        enc.encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] }),
        enc.encode({ cmd: 'pingreq' }),
        enc.encode({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: ['a'] }),
      ];
      const sub = await connect(tb.url, { clientId: 'watcher' });
      await sub.subscribeAsync('a');
      let leaked = 0;
      sub.on('message', () => leaked++);
      for (const frame of early) {
        const c = await RawClient.open(tb.port);
        clients.push(c);
        c.send(frame);
        await c.waitClose(2000);
        assert.deepEqual(c.all, [], `nothing sent back for ${frame[0].toString(16)}`);
      }
      await quietFor(50, () => leaked === 0, 'the PUBLISH before CONNECT was not routed');
      assert.deepEqual(tb.broker.connectedClientIds(), ['watcher']);
      await endAll(sub);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('idle timeout: a socket that never sends CONNECT is closed after idle_timeout', { timeout: 10_000 }, () =>
  withBroker({ mqtt: { idleTimeout: 300 } }, async (tb) => {
    const clients: RawClient[] = [];
    try {
      const silent = await RawClient.open(tb.port);
      clients.push(silent);
      const opened = Date.now();
      // half a CONNECT does not count as one
      const partial = await RawClient.open(tb.port);
      clients.push(partial);
      partial.send(rawConnectFrame({ clientId: 'p' }).subarray(0, 5));
      await silent.waitClose(2000);
      await partial.waitClose(2000);
      const after = silent.closedAt! - opened;
      assert.ok(after >= 250 && after < 1500, `closed after ${after} ms`);
      assert.deepEqual(silent.all, []);
      await waitFor(() => shutdownCount(tb, 'idle_timeout') === 2, 'idle_timeout counted twice');
      // a client that connects in time is not affected by idle_timeout
      const ok = await rawConnect(tb.port, { clientId: 'in-time' });
      clients.push(ok.client);
      assert.equal(await ok.client.closesWithin(600), false);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  }),
);

test('keepalive: a silent client with keepalive 1 is closed after ~1.5 s, keepalive_timeout, will published', { timeout: 15_000 }, () =>
  withBroker({}, async (tb) => {
    const clients: RawClient[] = [];
    let watcher;
    try {
      watcher = await connect(tb.url, { clientId: 'watcher', protocolVersion: 5 });
      await watcher.subscribeAsync('will/#', { qos: 1 });
      const wills = collect(watcher, 2, 6000);
      const results = await Promise.all(
        ([4, 5] as const).map(async (protocolVersion) => {
          const c = await RawClient.open(tb.port);
          clients.push(c);
          const t0 = Date.now();
          await c.connect({
            protocolVersion,
            clientId: `silent${protocolVersion}`,
            keepalive: 1,
            will: { topic: `will/silent${protocolVersion}`, payload: Buffer.from('gone'), qos: 1, retain: false },
          });
          await c.waitClose(4000);
          return { c, after: c.closedAt! - t0, protocolVersion };
        }),
      );
      for (const { c, after, protocolVersion } of results) {
        assert.ok(after >= 1000 && after < 2500, `v${protocolVersion} closed after ${after} ms`);
        const disconnect = c.all.find((p) => p.cmd === 'disconnect') as IDisconnectPacket | undefined;
        if (protocolVersion === 5) assert.equal(disconnect?.reasonCode, 0x8d);
      }
      const got = await wills;
      assert.deepEqual(got.map((m) => m.topic).sort(), ['will/silent4', 'will/silent5']);
      assert.ok(got.every((m) => m.payload === 'gone'));
      assert.equal(shutdownCount(tb, 'keepalive_timeout'), 2);
    } finally {
      clients.forEach((c) => c.destroy());
      await endAll(watcher);
    }
  }),
);

test('keepalive: PINGREQs keep a keepalive-1 client connected well past 1.5 s', { timeout: 10_000 }, () =>
  withBroker({}, async (tb) => {
    const { client } = await rawConnect(tb.port, { protocolVersion: 4, clientId: 'pinger', keepalive: 1 });
    const timer = setInterval(() => client.send({ cmd: 'pingreq' }), 500);
    try {
      assert.equal(await client.closesWithin(2600), false);
      assert.ok(client.all.filter((p) => p.cmd === 'pingresp').length >= 4);
      assert.equal(shutdownCount(tb, 'keepalive_timeout'), 0);
    } finally {
      clearInterval(timer);
      client.destroy();
    }
  }),
);

test('v5 server keep alive: CONNACK carries serverKeepalive and the broker enforces it', { timeout: 10_000 }, () =>
  withBroker({ mqtt: { serverKeepalive: 1 } }, async (tb) => {
    const clients: RawClient[] = [];
    let m;
    try {
      // the client asked for 60 s; the server says 1 s and closes a silent client after ~1.5 s
      const c = await RawClient.open(tb.port);
      clients.push(c);
      const t0 = Date.now();
      const ack = await c.connect({ protocolVersion: 5, clientId: 'sk', keepalive: 60 });
      assert.equal(ack.properties?.serverKeepAlive, 1);
      await c.waitClose(4000);
      const after = c.closedAt! - t0;
      assert.ok(after >= 1000 && after < 2500, `closed after ${after} ms`);
      // MQTT.js follows the server's value and stays connected by pinging every second
      m = await connect(tb.url, { protocolVersion: 5, clientId: 'sk-js', keepalive: 60 });
      let closed = false;
      m.on('close', () => (closed = true));
      await quietFor(2200, () => !closed, 'MQTT.js client stayed connected');
      // 3.1.1 has no server keep alive: the client's own keepalive applies (60 s here), and CONNACK has no properties
      const v4 = await rawConnect(tb.port, { protocolVersion: 4, clientId: 'sk4', keepalive: 60 });
      clients.push(v4.client);
      assert.equal(v4.connack.properties, undefined);
      assert.equal(tb.broker.connection('sk4')?.keepalive, 60);
    } finally {
      clients.forEach((c) => c.destroy());
      await endAll(m);
    }
  }),
);

/**
 * Flow control: the client's Receive Maximum (and max_inflight) bound what the broker has
 * outstanding to it; maximum packet size both ways (a too-big PUBLISH from a client ends its
 * connection, a message bigger than a client accepts is not sent to that client).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import { startBroker, connect, endAll, quietFor, waitFor, withBroker } from './harness.js';
import { Inbox, closed } from './observe.js';
import { rawConnect } from './raw-client.js';
import type { RawClient } from './raw-client.js';

const T = { timeout: 20_000 };

const publishes = (c: RawClient) => c.all.filter((p): p is IPublishPacket => p.cmd === 'publish');

/** Waits until the raw client has received `n` PUBLISH packets, then `quiet` ms more, and returns how many it has. */
async function publishCountSettles(c: RawClient, n: number, quiet = 150): Promise<number> {
  await waitFor(() => publishes(c).length >= n, `${n} PUBLISH (got ${publishes(c).length})`);
  await quietFor(quiet, () => publishes(c).length <= n, `no PUBLISH beyond ${n} (got ${publishes(c).length})`);
  return publishes(c).length;
}

async function subscribeRaw(c: RawClient, filter: string, qos: 0 | 1 | 2): Promise<void> {
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] });
  await c.next('suback');
}

test('v5: the broker never has more unacknowledged QoS 1 messages out to a client than its Receive Maximum', T, () =>
  withBroker({}, async (tb) => {
    let c: RawClient | undefined;
    let pub: MqttClient | undefined;
    try {
      ({ client: c } = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'slow', properties: { receiveMaximum: 3 } }));
      await subscribeRaw(c, 'rm/t', 1);
      pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      for (let i = 0; i < 10; i++) await pub.publishAsync('rm/t', `${i}`, { qos: 1 });
      assert.equal(await publishCountSettles(c, 3), 3, 'three out, the rest held');

      c.send({ cmd: 'puback', messageId: publishes(c)[0].messageId });
      assert.equal(await publishCountSettles(c, 4), 4, 'one acknowledged, one more sent');

      // acknowledge each as it comes; outstanding never exceeds 3
      let acked = 1;
      while (acked < 10) {
        const got = publishes(c);
        assert.ok(got.length - acked <= 3, `outstanding ${got.length - acked} > 3`);
        if (got.length > acked) {
          c.send({ cmd: 'puback', messageId: got[acked].messageId });
          acked++;
        } else await waitFor(() => publishes(c!).length > acked, `message ${acked + 1} after ${acked} acknowledged`);
      }
      await quietFor(100, () => publishes(c!).length === 10, 'nothing sent twice');
      assert.deepEqual(
        publishes(c).map((p) => p.payload.toString()),
        Array.from({ length: 10 }, (_, i) => `${i}`),
        'all ten, in order, none twice',
      );
      const ids = publishes(c)
        .slice(0, 3)
        .map((p) => p.messageId);
      assert.equal(new Set(ids).size, 3, 'outstanding messages have distinct packet ids');
    } finally {
      c?.destroy();
      await endAll(pub);
    }
  }),
);

test('v5: a resumed session resends its unacknowledged messages only up to the new Receive Maximum', T, () =>
  withBroker({}, async (tb) => {
    let c: RawClient | undefined;
    let pub: MqttClient | undefined;
    try {
      const opts = (receiveMaximum: number) => ({ protocolVersion: 5 as const, clientId: 'resume', clean: false, properties: { receiveMaximum, sessionExpiryInterval: 60 } });
      ({ client: c } = await rawConnect(tb.port, opts(5)));
      await subscribeRaw(c, 'rr/t', 1);
      pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      for (let i = 0; i < 10; i++) await pub.publishAsync('rr/t', `${i}`, { qos: 1 });
      assert.equal(await publishCountSettles(c, 5, 50), 5);
      c.destroy();
      await waitFor(() => tb.broker.connection('resume') === undefined, 'the broker to see the connection gone');

      ({ client: c } = await rawConnect(tb.port, opts(2)));
      assert.equal(await publishCountSettles(c, 2), 2, 'five were unacknowledged, only two are resent');
      assert.ok(
        publishes(c).every((p) => p.dup),
        'resent with DUP',
      );
      let acked = 0;
      while (acked < 10) {
        const got = publishes(c);
        assert.ok(got.length - acked <= 2, `outstanding ${got.length - acked} > 2`);
        if (got.length > acked) {
          c.send({ cmd: 'puback', messageId: got[acked].messageId });
          acked++;
        } else await waitFor(() => publishes(c!).length > acked, `message ${acked + 1} after ${acked} acknowledged`);
      }
      await quietFor(50, () => publishes(c!).length === 10, 'nothing sent twice');
      assert.deepEqual(
        publishes(c).map((p) => [p.payload.toString(), p.dup]),
        Array.from({ length: 10 }, (_, i) => [`${i}`, i < 5]),
        'the five held back first (DUP), then the queued five, in order',
      );
    } finally {
      c?.destroy();
      await endAll(pub);
    }
  }),
);

test('v5: a QoS 2 message counts against Receive Maximum until PUBCOMP, not PUBREC', T, () =>
  withBroker({}, async (tb) => {
    let c: RawClient | undefined;
    let pub: MqttClient | undefined;
    try {
      ({ client: c } = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'slow2', properties: { receiveMaximum: 2 } }));
      await subscribeRaw(c, 'rm/t', 2);
      pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      for (let i = 0; i < 5; i++) await pub.publishAsync('rm/t', `${i}`, { qos: 2 });
      assert.equal(await publishCountSettles(c, 2), 2);
      const first = publishes(c)[0].messageId!;
      c.send({ cmd: 'pubrec', messageId: first });
      const rel = await c.next('pubrel');
      assert.equal((rel as { messageId: number }).messageId, first);
      assert.equal(await publishCountSettles(c, 2), 2, 'after PUBREC the slot is still taken');
      c.send({ cmd: 'pubcomp', messageId: first });
      assert.equal(await publishCountSettles(c, 3), 3, 'PUBCOMP frees it');
    } finally {
      c?.destroy();
      await endAll(pub);
    }
  }),
);

test('max_inflight bounds the window too: v4 clients get max_inflight, v5 the smaller of it and Receive Maximum', T, () =>
  withBroker({ mqtt: { maxInflight: 4 } }, async (tb) => {
    const cs: RawClient[] = [];
    let pub: MqttClient | undefined;
    try {
      const v4 = (await rawConnect(tb.port, { protocolVersion: 4, clientId: 'v4' })).client;
      const v5big = (await rawConnect(tb.port, { protocolVersion: 5, clientId: 'v5big', properties: { receiveMaximum: 50 } })).client;
      const v5small = (await rawConnect(tb.port, { protocolVersion: 5, clientId: 'v5small', properties: { receiveMaximum: 2 } })).client;
      cs.push(v4, v5big, v5small);
      for (const c of cs) await subscribeRaw(c, 'win/t', 1);
      pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      for (let i = 0; i < 10; i++) await pub.publishAsync('win/t', `${i}`, { qos: 1 });
      assert.equal(await publishCountSettles(v4, 4), 4);
      assert.equal(await publishCountSettles(v5big, 4, 0), 4);
      assert.equal(await publishCountSettles(v5small, 2, 0), 2);
    } finally {
      for (const c of cs) c.destroy();
      await endAll(pub);
    }
  }),
);

for (const protocolVersion of [4, 5] as const) {
  test(
    `v${protocolVersion}: a PUBLISH over mqtt.maxPacketSize ends the connection${protocolVersion === 5 ? ' with DISCONNECT 0x95' : ''}; one at the limit passes`,
    T,
    async () => {
      const tb = await startBroker({ mqtt: { maxPacketSize: 1024 } });
      const clients: MqttClient[] = [];
      try {
        const sub = await connect(tb.url, { protocolVersion: 5, clientId: 'sub' });
        clients.push(sub);
        await sub.subscribeAsync('big/#', { qos: 1 });
        const inbox = new Inbox(sub);
        const pub = await connect(tb.url, { protocolVersion, clientId: 'pub' });
        clients.push(pub);
        if (protocolVersion === 5) assert.equal(pub.serverProperties?.maximumPacketSize, 1024, 'CONNACK Maximum Packet Size');
        // QoS 0 PUBLISH 'big/ok': 1 byte header + 2 length bytes + 2+6 topic (+1 properties length in v5) + payload
        const fits = 1024 - 3 - 8 - (protocolVersion === 5 ? 1 : 0);
        await pub.publishAsync('big/ok', 'a'.repeat(fits), { qos: 0 });
        await inbox.until(1);
        assert.equal(inbox.msgs[0].payload.length, fits);

        const done = closed(pub);
        pub.publish('big/no', 'b'.repeat(2000), { qos: 1 });
        const { disconnect } = await done;
        if (protocolVersion === 5) assert.equal(disconnect?.reasonCode, 0x95);
        else assert.equal(disconnect, undefined);
        // the subscriber never saw it and is still fine
        const other = await connect(tb.url, { protocolVersion, clientId: 'other' });
        clients.push(other);
        await other.publishAsync('big/end', 'end', { qos: 1 });
        await inbox.waitPayload('end');
        assert.deepEqual(
          inbox.msgs.map((m) => m.topic),
          ['big/ok', 'big/end'],
        );
      } finally {
        await endAll(...clients);
        await tb.close();
      }
    },
  );
}

test("v5: a message bigger than a client's Maximum Packet Size is not sent to it; others get it; later messages still flow", T, () =>
  withBroker({}, async (tb) => {
    let small: RawClient | undefined;
    const clients: MqttClient[] = [];
    try {
      ({ client: small } = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'small', properties: { maximumPacketSize: 200 } }));
      await subscribeRaw(small, 'mps/#', 1);
      const big = await connect(tb.url, { protocolVersion: 5, clientId: 'big' });
      const v4 = await connect(tb.url, { protocolVersion: 4, clientId: 'v4' });
      clients.push(big, v4);
      await big.subscribeAsync('mps/#', { qos: 1 });
      await v4.subscribeAsync('mps/#', { qos: 1 });
      const boxes = [new Inbox(big), new Inbox(v4)];
      const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      clients.push(pub);
      const sent = [
        ['mps/a', 'small-1', 1],
        ['mps/b', 'x'.repeat(500), 1],
        ['mps/c', 'y'.repeat(500), 0],
        ['mps/d', 'small-2', 1],
        // PUBLISH size = 1 + 2 (remaining length) + 2+5 (topic) + 2 (packet id) + 1 (properties) + payload
        ['mps/e', 'z'.repeat(187), 1], // 200 bytes: fits exactly
        ['mps/f', 'w'.repeat(188), 1], // 201 bytes: one too many
      ] as const;
      for (const [t, p, q] of sent) await pub.publishAsync(t, p, { qos: q });
      for (const b of boxes) {
        await b.until(6);
        assert.deepEqual(
          b.msgs.map((m) => m.topic),
          ['mps/a', 'mps/b', 'mps/c', 'mps/d', 'mps/e', 'mps/f'],
          'the others get everything',
        );
      }
      await waitFor(() => publishes(small!).length >= 3, 'three PUBLISH to the small client');
      await quietFor(100, () => publishes(small!).length === 3, 'no more PUBLISH to the small client');
      const got = publishes(small);
      assert.deepEqual(
        got.map((p) => p.topic),
        ['mps/a', 'mps/d', 'mps/e'],
        'the big ones were not sent to it',
      );
      const size = (p: IPublishPacket) => 1 + (p.length! > 127 ? 2 : 1) + p.length!;
      assert.deepEqual(got.map(size).slice(-1), [200], 'the one of exactly 200 bytes was sent');
      assert.equal(small.parseErrors.length, 0);
      assert.equal(small.closed, false);
      // nothing oversized is stuck in its window: acknowledging what came leaves nothing pending
      for (const p of got) small.send({ cmd: 'puback', messageId: p.messageId });
      await waitFor(() => tb.broker.session('small')?.inflight.size === 0, "the small client's window to empty");
    } finally {
      small?.destroy();
      await endAll(...clients);
    }
  }),
);

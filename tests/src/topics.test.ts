/**
 * Topic rules: SUBACK codes per filter (invalid, not allowed), wildcards in a PUBLISH topic,
 * `$`-topics and leading wildcards, UNSUBACK codes, max QoS, wildcard/shared subscriptions
 * switched off, topic level limits. MQTT.js where it will send the packet, a raw client where
 * it validates first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { IConnackPacket, ISubscription, ISubackPacket, IUnsubackPacket } from 'mqtt-packet';
import { startBroker, connect, endAll, withBroker } from './harness.js';
import type { TestBroker } from './harness.js';
import { Inbox, closed } from './observe.js';
import { rawConnect } from './raw-client.js';
import type { RawClient } from './raw-client.js';

const T = { timeout: 20_000 };

/** Sends one SUBSCRIBE from a raw client and returns the SUBACK's per-filter codes. */
async function suback(raw: RawClient, subs: [string, 0 | 1 | 2][], messageId = 1): Promise<number[]> {
  const subscriptions: ISubscription[] = subs.map(([topic, qos]) => ({ topic, qos }));
  raw.send({ cmd: 'subscribe', messageId, subscriptions });
  const ack = (await raw.next('suback')) as ISubackPacket;
  assert.equal(ack.messageId, messageId);
  return ack.granted as number[];
}

async function raw(tb: TestBroker, protocolVersion: 4 | 5, clientId: string): Promise<{ client: RawClient; connack: IConnackPacket }> {
  return rawConnect(tb.port, { protocolVersion, clientId });
}

const qos0 = (topic: string, payload: string) => ({ cmd: 'publish' as const, topic, payload: Buffer.from(payload), qos: 0 as const, retain: false, dup: false });

for (const protocolVersion of [4, 5] as const) {
  const FAIL = protocolVersion === 5 ? 0x8f : 0x80;
  test(`v${protocolVersion}: invalid filters fail one by one (0x${FAIL.toString(16)}) while valid ones in the same SUBSCRIBE are granted`, T, () =>
    withBroker({ mqtt: { maxTopicLevels: 4 } }, async (tb) => {
      let c: RawClient | undefined;
      try {
        ({ client: c } = await raw(tb, protocolVersion, 'mixed'));
        const codes = await suback(c, [
          ['ok/a', 1],
          ['a/#/b', 0],
          ['x/a+', 1],
          ['ok/+/c', 2],
          ['$share/g', 1],
          ['$share/g+/t', 1],
          ['a/b/c/d/e', 0],
          ['ok/#', 0],
          ['x#', 2],
        ]);
        assert.deepEqual(codes, [1, FAIL, FAIL, 2, FAIL, FAIL, FAIL, 0, FAIL]);
        // the granted ones work
        const { client: pub } = await raw(tb, protocolVersion, 'pub');
        try {
          pub.send(qos0('ok/a', 'a'));
          pub.send(qos0('ok/b/c', 'c'));
          const got = [await c.next('publish'), await c.next('publish'), await c.next('publish')] as { topic: string }[];
          // ok/a matches ok/a and ok/#; ok/b/c matches ok/+/c and ok/#: one copy per matching subscription
          const topics = got.map((p) => p.topic).sort();
          assert.ok(topics.includes('ok/a') && topics.includes('ok/b/c'), JSON.stringify(topics));
        } finally {
          pub.destroy();
        }
        assert.equal(c.closed, false);
      } finally {
        c?.destroy();
      }
    }),
  );

  test(`v${protocolVersion}: a PUBLISH to a topic with wildcards closes the connection${protocolVersion === 5 ? ' with DISCONNECT 0x90' : ''} and reaches no one`, T, () =>
    withBroker({}, async (tb) => {
      const clients: MqttClient[] = [];
      try {
        const watcher = await connect(tb.url, { protocolVersion, clientId: 'watcher' });
        clients.push(watcher);
        await watcher.subscribeAsync('#', { qos: 1 });
        const inbox = new Inbox(watcher);
        for (const topic of ['wild/+', 'wild/#', '+', 'a/+/b']) {
          const bad = await connect(tb.url, { protocolVersion, clientId: `bad` });
          clients.push(bad);
          const done = closed(bad);
          bad.publish(topic, 'x', { qos: 1 });
          const { disconnect } = await done;
          if (protocolVersion === 5) assert.equal(disconnect?.reasonCode, 0x90, `DISCONNECT for ${topic}`);
          else assert.equal(disconnect, undefined);
        }
        // other clients go on: the watcher still gets a good message, and only that
        const good = await connect(tb.url, { protocolVersion, clientId: 'good' });
        clients.push(good);
        await good.publishAsync('fine/topic', 'ok', { qos: 1 });
        await inbox.waitPayload('ok');
        assert.deepEqual(
          inbox.msgs.map((m) => m.topic),
          ['fine/topic'],
        );
      } finally {
        await endAll(...clients);
      }
    }),
  );

  test(`v${protocolVersion}: '$' topics are not matched by '#' or '+/…', only by filters that start with '$'`, T, () =>
    withBroker({ sys: { clientConnected: true, sysMsgInterval: 0 } }, async (tb) => {
      const clients: MqttClient[] = [];
      try {
        const mk = async (id: string, filters: string[]) => {
          const c = await connect(tb.url, { protocolVersion, clientId: id });
          clients.push(c);
          for (const f of filters) await c.subscribeAsync(f, { qos: 1 });
          return new Inbox(c);
        };
        const hash = await mk('hash', ['#']);
        const plus = await mk('plus', ['+/x', '+/+', '+/brokers/#']);
        const dollar = await mk('dollar', ['$test/#', '$test/+', '+/ignored']);
        const shared = await mk('shared', ['$share/g/#', '$queue/+/x']);
        const pub = await connect(tb.url, { protocolVersion, clientId: 'pub' });
        clients.push(pub);
        await pub.publishAsync('$test/x', 'dollar', { qos: 1 });
        await pub.publishAsync('plain/x', 'plain', { qos: 1 });
        // wait for the plain message: anything '$' would have arrived before it
        await hash.waitPayload('plain');
        await plus.until(2); // plain/x matches +/x and +/+
        await dollar.until(2);
        assert.deepEqual(hash.payloads, ['plain'], "'#' never gets $test/x nor $SYS client events");
        assert.deepEqual(plus.payloads, ['plain', 'plain']);
        assert.deepEqual(dollar.payloads, ['dollar', 'dollar'], "'$test/#' and '$test/+' match $test/x");
        await shared.until(2);
        assert.deepEqual(shared.payloads, ['plain', 'plain'], 'shared wildcard subscriptions follow the same rule');
      } finally {
        await endAll(...clients);
      }
    }),
  );
}

test('v5: UNSUBACK says 0x00 for a subscription that existed and 0x11 for one that did not; v4 has no codes', T, () =>
  withBroker({}, async (tb) => {
    let c5: MqttClient | undefined;
    let c4: MqttClient | undefined;
    let pub: MqttClient | undefined;
    try {
      c5 = await connect(tb.url, { protocolVersion: 5, clientId: 'c5' });
      await c5.subscribeAsync({ 'u/a': { qos: 1 }, '$share/g/u/b': { qos: 1 } });
      const ack = (await c5.unsubscribeAsync(['u/a', 'u/none', '$share/g/u/b', '$share/other/u/b'])) as IUnsubackPacket | undefined;
      assert.deepEqual(ack?.granted, [0x00, 0x11, 0x00, 0x11]);
      const again = (await c5.unsubscribeAsync('u/a')) as IUnsubackPacket | undefined;
      assert.deepEqual(again?.granted, [0x11], 'the second unsubscribe finds nothing');

      c4 = await connect(tb.url, { protocolVersion: 4, clientId: 'c4' });
      await c4.subscribeAsync('u/a', { qos: 1 });
      const ack4 = (await c4.unsubscribeAsync(['u/a', 'u/none'])) as IUnsubackPacket | undefined;
      assert.equal(ack4?.cmd, 'unsuback');
      assert.ok(!ack4?.granted || ack4.granted.length === 0, 'a 3.1.1 UNSUBACK has no payload');

      // unsubscribed means no more messages
      const box5 = new Inbox(c5);
      const box4 = new Inbox(c4);
      await c5.subscribeAsync('u/sentinel', { qos: 1 });
      await c4.subscribeAsync('u/sentinel', { qos: 1 });
      pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      await pub.publishAsync('u/a', 'gone', { qos: 1 });
      await pub.publishAsync('u/b', 'gone', { qos: 1 });
      await pub.publishAsync('u/sentinel', 'end', { qos: 1 });
      await box5.waitPayload('end');
      await box4.waitPayload('end');
      assert.deepEqual(box5.payloads, ['end']);
      assert.deepEqual(box4.payloads, ['end']);
    } finally {
      await endAll(c5, c4, pub);
    }
  }),
);

test('maxQosAllowed: SUBACK grants at most the allowed QoS, v5 CONNACK says Maximum QoS, a QoS 2 PUBLISH gets DISCONNECT 0x9B', T, async () => {
  const tb = await startBroker({ mqtt: { maxQosAllowed: 1 } });
  const clients: MqttClient[] = [];
  try {
    for (const protocolVersion of [4, 5] as const) {
      const c = await connect(tb.url, { protocolVersion, clientId: `sub${protocolVersion}` });
      clients.push(c);
      const granted = await c.subscribeAsync({ 'mq/2': { qos: 2 }, 'mq/1': { qos: 1 }, 'mq/0': { qos: 0 } });
      assert.deepEqual(
        granted.map((g) => [g.topic, g.qos]),
        [
          ['mq/2', 1],
          ['mq/1', 1],
          ['mq/0', 0],
        ],
        `v${protocolVersion}`,
      );
      if (protocolVersion === 5) assert.equal(c.serverProperties?.maximumQoS, 1);
    }
    const inbox = new Inbox(clients[1]);
    const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
    clients.push(pub);
    await pub.publishAsync('mq/2', 'one', { qos: 1 });
    const [m] = await inbox.until(1);
    assert.equal(m.packet.qos, 1);
    const done = closed(pub);
    pub.publish('mq/2', 'two', { qos: 2 });
    const { disconnect } = await done;
    assert.equal(disconnect?.reasonCode, 0x9b);
  } finally {
    await endAll(...clients);
    await tb.close();
  }

  const tb0 = await startBroker({ mqtt: { maxQosAllowed: 0 } });
  let c0: MqttClient | undefined;
  try {
    c0 = await connect(tb0.url, { protocolVersion: 5, clientId: 'q0' });
    const granted = await c0.subscribeAsync('mq/#', { qos: 2 });
    assert.equal(granted[0].qos, 0);
    assert.equal(c0.serverProperties?.maximumQoS, 0);
  } finally {
    await endAll(c0);
    await tb0.close();
  }
});

test('wildcardSubscription: false → SUBACK 0xA2 (v5) / 0x80 (v4) for wildcard filters; plain filters still granted', T, () =>
  withBroker({ mqtt: { wildcardSubscription: false } }, async (tb) => {
    const cs: RawClient[] = [];
    try {
      for (const protocolVersion of [4, 5] as const) {
        const { client, connack } = await raw(tb, protocolVersion, `w${protocolVersion}`);
        cs.push(client);
        if (protocolVersion === 5) assert.equal(connack.properties?.wildcardSubscriptionAvailable, false);
        const F = protocolVersion === 5 ? 0xa2 : 0x80;
        const codes = await suback(client, [
          ['w/+', 1],
          ['w/#', 1],
          ['w/a', 1],
          ['#', 0],
          ['$share/g/w/+', 1],
          ['$share/g/w/b', 2],
        ]);
        assert.deepEqual(codes, [F, F, 1, F, F, 2], `v${protocolVersion}`);
      }
    } finally {
      for (const c of cs) c.destroy();
    }
  }),
);

test('sharedSubscription: false → SUBACK 0x9E (v5) / 0x80 (v4) for $share and $queue; plain filters still granted', T, () =>
  withBroker({ mqtt: { sharedSubscription: false } }, async (tb) => {
    const cs: RawClient[] = [];
    try {
      for (const protocolVersion of [4, 5] as const) {
        const { client, connack } = await raw(tb, protocolVersion, `s${protocolVersion}`);
        cs.push(client);
        if (protocolVersion === 5) assert.equal(connack.properties?.sharedSubscriptionAvailable, false);
        const F = protocolVersion === 5 ? 0x9e : 0x80;
        const codes = await suback(client, [
          ['$share/g/s/t', 1],
          ['s/t', 1],
          ['$queue/s/t', 0],
          ['s/#', 2],
        ]);
        assert.deepEqual(codes, [F, 1, F, 2], `v${protocolVersion}`);
      }
    } finally {
      for (const c of cs) c.destroy();
    }
  }),
);

test('v5: a PUBLISH topic deeper than max_topic_levels gets DISCONNECT 0x90', T, () =>
  withBroker({ mqtt: { maxTopicLevels: 3 } }, async (tb) => {
    let c: MqttClient | undefined;
    try {
      c = await connect(tb.url, { protocolVersion: 5, clientId: 'deep' });
      await c.publishAsync('a/b/c', 'ok', { qos: 1 });
      const done = closed(c);
      c.publish('a/b/c/d', 'too deep', { qos: 1 });
      const { disconnect } = await done;
      assert.equal(disconnect?.reasonCode, 0x90);
    } finally {
      await endAll(c);
    }
  }),
);

test('wildcards and empty levels: "#" includes the parent level, "+" matches an empty level', T, () =>
  withBroker({}, async (tb) => {
    const clients: MqttClient[] = [];
    try {
      const filters = ['a/#', '+/a', 'a/+', 'a/+/b', '+/+', '#', '+', 'a/b/#', 'a'];
      const boxes = new Map<string, Inbox>();
      for (const f of filters) {
        const c = await connect(tb.url, { protocolVersion: 5, clientId: `f${boxes.size}` });
        clients.push(c);
        await c.subscribeAsync(f, { qos: 1 });
        boxes.set(f, new Inbox(c));
      }
      const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      clients.push(pub);
      const topics = ['a', 'a/', '/a', '/', 'a//b', 'a/b', 'a/b/c', 'b'];
      for (const t of topics) await pub.publishAsync(t, t, { qos: 1 });
      await pub.publishAsync('end/of/test/marker', 'end', { qos: 1 });
      await boxes.get('#')!.waitPayload('end');
      const want: Record<string, string[]> = {
        'a/#': ['a', 'a/', 'a//b', 'a/b', 'a/b/c'],
        '+/a': ['/a'],
        'a/+': ['a/', 'a/b'],
        'a/+/b': ['a//b'],
        '+/+': ['a/', '/a', '/', 'a/b'],
        '#': [...topics, 'end/of/test/marker'],
        '+': ['a', 'b'],
        'a/b/#': ['a/b', 'a/b/c'],
        a: ['a'],
      };
      for (const [f, box] of boxes) {
        if (f !== '#') await box.until(want[f].length);
        await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(
          box.msgs.map((m) => m.topic).filter((t) => t !== 'end/of/test/marker' || f === '#'),
          want[f],
          `filter ${f}`,
        );
      }
    } finally {
      await endAll(...clients);
    }
  }),
);

/**
 * Retained messages with MQTT.js at v4 and v5: store, replace, clear, delivery on subscribe
 * (flag set, QoS downgraded), wildcards, `$`-topics, retain handling 0/1/2, retain as
 * published, never to shared subscriptions, retain not available.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient, IClientSubscribeOptions } from 'mqtt';
import { connect, endAll, withBroker, quietFor } from './harness.js';
import type { TestBroker } from './harness.js';
import { Inbox, closed } from './observe.js';
import type { Got } from './observe.js';

const T = { timeout: 20_000 };
let seq = 0;

/**
 * Subscribes `client` to `filter` and returns what it received before a sentinel that the
 * broker publishes right after the SUBACK: the retained messages of that subscription.
 */
async function onSubscribe(tb: TestBroker, client: MqttClient, filter: string, opts: IClientSubscribeOptions): Promise<Got[]> {
  const inbox = new Inbox(client);
  const sentinelTopic = `sentinel/${client.options.clientId}`;
  try {
    await client.subscribeAsync(filter, opts);
    await client.subscribeAsync(sentinelTopic, { qos: 0 });
    const token = `sentinel-${++seq}`;
    tb.broker.publishMessage({ topic: sentinelTopic, payload: token });
    await inbox.waitPayload(token);
    const at = inbox.msgs.findIndex((m) => m.payload === token);
    return inbox.msgs.slice(0, at).filter((m) => !m.topic.startsWith('sentinel/'));
  } finally {
    inbox.stop();
  }
}

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: retained message is stored, replaced, and cleared by an empty payload`, T, () =>
    withBroker({}, async (tb) => {
      let pub: MqttClient | undefined;
      let live: MqttClient | undefined;
      const late: MqttClient[] = [];
      try {
        pub = await connect(tb.url, { protocolVersion, clientId: 'pub' });
        live = await connect(tb.url, { protocolVersion, clientId: 'live' });
        await live.subscribeAsync('r/a', { qos: 1 });
        const liveBox = new Inbox(live);

        await pub.publishAsync('r/a', 'one', { qos: 1, retain: true });
        let c = await connect(tb.url, { protocolVersion, clientId: 'late1' });
        late.push(c);
        let got = await onSubscribe(tb, c, 'r/a', { qos: 1 });
        assert.deepEqual(
          got.map((m) => [m.topic, m.payload, m.packet.retain]),
          [['r/a', 'one', true]],
          'a new subscriber gets the retained message with the retain flag set',
        );

        await pub.publishAsync('r/a', 'two', { qos: 1, retain: true });
        c = await connect(tb.url, { protocolVersion, clientId: 'late2' });
        late.push(c);
        got = await onSubscribe(tb, c, 'r/a', { qos: 1 });
        assert.deepEqual(
          got.map((m) => m.payload),
          ['two'],
          'the second retained message replaced the first',
        );

        await pub.publishAsync('r/a', '', { qos: 1, retain: true });
        c = await connect(tb.url, { protocolVersion, clientId: 'late3' });
        late.push(c);
        got = await onSubscribe(tb, c, 'r/a', { qos: 1 });
        assert.deepEqual(got, [], 'an empty retained payload cleared the retained message');

        // an existing subscriber got each of them live, without the retain flag [MQTT-3.3.1-9]
        const liveMsgs = await liveBox.until(3);
        assert.deepEqual(
          liveMsgs.map((m) => [m.payload, m.packet.retain]),
          [
            ['one', false],
            ['two', false],
            ['', false],
          ],
        );
      } finally {
        await endAll(pub, live, ...late);
      }
    }),
  );

  test(`v${protocolVersion}: retained message is delivered at the lower of its QoS and the subscription's`, T, () =>
    withBroker({}, async (tb) => {
      let pub: MqttClient | undefined;
      const subs: MqttClient[] = [];
      try {
        pub = await connect(tb.url, { protocolVersion, clientId: 'pub' });
        await pub.publishAsync('q/2', 'two', { qos: 2, retain: true });
        await pub.publishAsync('q/0', 'zero', { qos: 0, retain: true });
        await pub.publishAsync('q/1', 'one', { qos: 1, retain: true });
        const cases: [string, 0 | 1 | 2, number][] = [
          ['q/2', 0, 0],
          ['q/2', 1, 1],
          ['q/2', 2, 2],
          ['q/0', 2, 0],
          ['q/1', 2, 1],
        ];
        for (const [topic, subQos, want] of cases) {
          const c = await connect(tb.url, { protocolVersion });
          subs.push(c);
          const got = await onSubscribe(tb, c, topic, { qos: subQos });
          assert.equal(got.length, 1, `${topic} at sub QoS ${subQos}`);
          assert.equal(got[0].packet.qos, want, `${topic} subscribed at QoS ${subQos} is delivered at QoS ${want}`);
          assert.equal(got[0].packet.retain, true);
        }
      } finally {
        await endAll(pub, ...subs);
      }
    }),
  );

  test(`v${protocolVersion}: a wildcard subscription gets every matching retained message, and '#' no '$' topics`, T, () =>
    withBroker({}, async (tb) => {
      let pub: MqttClient | undefined;
      const subs: MqttClient[] = [];
      try {
        pub = await connect(tb.url, { protocolVersion, clientId: 'pub' });
        for (const t of ['w/a', 'w/b/c', 'w/b/d', 'x/a', '$w/a']) await pub.publishAsync(t, `v:${t}`, { qos: 1, retain: true });
        const cases: [string, string[]][] = [
          ['w/#', ['w/a', 'w/b/c', 'w/b/d']],
          ['w/b/+', ['w/b/c', 'w/b/d']],
          ['+/a', ['w/a', 'x/a']],
          ['#', ['w/a', 'w/b/c', 'w/b/d', 'x/a']],
          ['$w/#', ['$w/a']],
          ['w/b', []],
        ];
        for (const [filter, want] of cases) {
          const c = await connect(tb.url, { protocolVersion });
          subs.push(c);
          const got = await onSubscribe(tb, c, filter, { qos: 1 });
          assert.deepEqual(got.map((m) => m.topic).sort(), want, `retained messages for ${filter}`);
          for (const m of got) {
            assert.equal(m.payload, `v:${m.topic}`);
            assert.equal(m.packet.retain, true);
          }
        }
      } finally {
        await endAll(pub, ...subs);
      }
    }),
  );

  test(`v${protocolVersion}: retained messages are never sent to shared subscriptions`, T, () =>
    withBroker({}, async (tb) => {
      let pub: MqttClient | undefined;
      let c: MqttClient | undefined;
      try {
        pub = await connect(tb.url, { protocolVersion, clientId: 'pub' });
        await pub.publishAsync('s/t', 'kept', { qos: 1, retain: true });
        c = await connect(tb.url, { protocolVersion, clientId: 'member' });
        assert.deepEqual(await onSubscribe(tb, c, '$share/g/s/t', { qos: 1 }), [], '$share/g/s/t');
        assert.deepEqual(await onSubscribe(tb, c, '$queue/s/t', { qos: 1 }), [], '$queue/s/t');
        assert.deepEqual(await onSubscribe(tb, c, '$share/g2/s/#', { qos: 1 }), [], '$share/g2/s/#');
        // the shared subscriptions are live: a new message reaches the member through each group
        const inbox = new Inbox(c);
        await pub.publishAsync('s/t', 'live', { qos: 1 });
        const got = await inbox.until(3);
        await quietFor(50, () => inbox.msgs.length === 3, 'no retained copy besides the live ones');
        assert.deepEqual(inbox.payloads, ['live', 'live', 'live']);
        assert.ok(got.every((m) => m.packet.retain === false));
        // and the retained message is still there for a plain subscription
        assert.deepEqual(
          (await onSubscribe(tb, c, 's/t', { qos: 1 })).map((m) => m.payload),
          ['kept'],
        );
      } finally {
        await endAll(pub, c);
      }
    }),
  );
}

test('v5: retain handling 0 sends on every subscribe, 1 only for a new subscription, 2 never', T, () =>
  withBroker({}, async (tb) => {
    let pub: MqttClient | undefined;
    const subs: MqttClient[] = [];
    try {
      pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      await pub.publishAsync('rh/t', 'kept', { qos: 1, retain: true });
      const c0 = await connect(tb.url, { protocolVersion: 5, clientId: 'rh0' });
      const c1 = await connect(tb.url, { protocolVersion: 5, clientId: 'rh1' });
      const c2 = await connect(tb.url, { protocolVersion: 5, clientId: 'rh2' });
      subs.push(c0, c1, c2);

      assert.deepEqual(
        (await onSubscribe(tb, c0, 'rh/t', { qos: 1, rh: 0 })).map((m) => m.payload),
        ['kept'],
        'rh 0, first subscribe',
      );
      assert.deepEqual(
        (await onSubscribe(tb, c0, 'rh/t', { qos: 1, rh: 0 })).map((m) => m.payload),
        ['kept'],
        'rh 0, subscribe again',
      );

      assert.deepEqual(
        (await onSubscribe(tb, c1, 'rh/t', { qos: 1, rh: 1 })).map((m) => m.payload),
        ['kept'],
        'rh 1, new subscription',
      );
      assert.deepEqual(await onSubscribe(tb, c1, 'rh/t', { qos: 1, rh: 1 }), [], 'rh 1, existing subscription');
      // a new subscription again after unsubscribing
      await c1.unsubscribeAsync('rh/t');
      assert.deepEqual(
        (await onSubscribe(tb, c1, 'rh/t', { qos: 1, rh: 1 })).map((m) => m.payload),
        ['kept'],
        'rh 1 after unsubscribe',
      );

      assert.deepEqual(await onSubscribe(tb, c2, 'rh/t', { qos: 1, rh: 2 }), [], 'rh 2');
      assert.deepEqual(await onSubscribe(tb, c2, 'rh/#', { qos: 1, rh: 2 }), [], 'rh 2, wildcard');

      // rh only governs retained messages at subscribe time: live messages reach all three
      const boxes = subs.map((c) => new Inbox(c));
      await pub.publishAsync('rh/t', 'live', { qos: 1 });
      for (const b of boxes) await b.waitPayload('live');
    } finally {
      await endAll(pub, ...subs);
    }
  }),
);

test('v5: retain as published keeps the retain flag on live messages; without it the flag is cleared', T, () =>
  withBroker({}, async (tb) => {
    let pub: MqttClient | undefined;
    let rap: MqttClient | undefined;
    let norap: MqttClient | undefined;
    let v4: MqttClient | undefined;
    try {
      pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      rap = await connect(tb.url, { protocolVersion: 5, clientId: 'rap' });
      norap = await connect(tb.url, { protocolVersion: 5, clientId: 'norap' });
      v4 = await connect(tb.url, { protocolVersion: 4, clientId: 'v4' });
      await rap.subscribeAsync('rap/#', { qos: 1, rap: true });
      await norap.subscribeAsync('rap/#', { qos: 1, rap: false });
      await v4.subscribeAsync('rap/#', { qos: 1 });
      const boxes = [new Inbox(rap), new Inbox(norap), new Inbox(v4)];

      await pub.publishAsync('rap/x', 'retained', { qos: 1, retain: true });
      await pub.publishAsync('rap/x', 'plain', { qos: 1, retain: false });
      await pub.publishAsync('rap/y', 'retained0', { qos: 0, retain: true });
      const want = (r: boolean) => [
        ['retained', r],
        ['plain', false],
        ['retained0', r],
      ];
      const [a, b, c] = await Promise.all(boxes.map((x) => x.until(3)));
      assert.deepEqual(
        a.map((m) => [m.payload, m.packet.retain]),
        want(true),
        'rap=1 keeps the flag',
      );
      assert.deepEqual(
        b.map((m) => [m.payload, m.packet.retain]),
        want(false),
        'rap=0 clears it',
      );
      assert.deepEqual(
        c.map((m) => [m.payload, m.packet.retain]),
        want(false),
        'v3.1.1 subscriber: cleared',
      );

      // retained messages sent because of a SUBSCRIBE always carry the flag, rap or not
      const got = await onSubscribe(tb, norap, 'rap/x', { qos: 1, rap: false });
      assert.deepEqual(
        got.map((m) => [m.payload, m.packet.retain]),
        [['retained', true]],
      );
    } finally {
      await endAll(pub, rap, norap, v4);
    }
  }),
);

test('v5: retain not available: CONNACK says so, and a retained PUBLISH gets DISCONNECT 0x9A', T, () =>
  withBroker({ mqtt: { retainAvailable: false } }, async (tb) => {
    let c: MqttClient | undefined;
    try {
      c = await connect(tb.url, { protocolVersion: 5, clientId: 'noretain' });
      assert.equal(c.serverProperties?.retainAvailable, false, 'CONNACK Retain Available = 0');
      const done = closed(c);
      c.publish('nr/t', 'x', { qos: 1, retain: true });
      const { disconnect } = await done;
      assert.equal(disconnect?.reasonCode, 0x9a);
    } finally {
      await endAll(c);
    }
  }),
);

/**
 * MQTT 5 properties end to end with MQTT.js (and a raw client for what MQTT.js refuses to
 * send): topic aliases client→server, message expiry, no local, subscription identifiers,
 * and the properties a broker must pass through unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { connect, endAll, quietFor, sleep, withBroker, type Closable, type TestBroker } from './harness.js';
import { Inbox, Wire, connectInbox } from './observe.js';
import { rawConnect } from './raw-client.js';
import type { RawClient } from './raw-client.js';

const T = { timeout: 20_000 };

/** Two v5 clients: `sub` subscribed to `filter` at QoS 1 (its messages in `inbox`), and `pub`. */
async function subAndPub(tb: TestBroker, clients: Closable[], filter: string): Promise<{ inbox: Inbox; pub: MqttClient }> {
  const sub = await connect(tb.url, { protocolVersion: 5, clientId: 'sub' });
  clients.push(sub);
  await sub.subscribeAsync(filter, { qos: 1 });
  const inbox = new Inbox(sub);
  const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
  clients.push(pub);
  return { inbox, pub };
}

test('topic alias: set with a topic, reused with an empty topic, remapped; subscribers see the full topic', T, () =>
  withBroker({}, async (tb, clients) => {
    const s5 = await connect(tb.url, { protocolVersion: 5, clientId: 's5' });
    const s4 = await connect(tb.url, { protocolVersion: 4, clientId: 's4' });
    clients.push(s5, s4);
    for (const s of [s5, s4]) await s.subscribeAsync('ta/#', { qos: 1 });
    const boxes = [new Inbox(s5), new Inbox(s4)];
    const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
    clients.push(pub);
    assert.ok((pub.serverProperties?.topicAliasMaximum ?? 0) > 0, 'CONNACK offers topic aliases');
    const wire = new Wire(pub);
    await pub.publishAsync('ta/x', 'one', { qos: 1, properties: { topicAlias: 1 } });
    await pub.publishAsync('', 'two', { qos: 1, properties: { topicAlias: 1 } });
    await pub.publishAsync('ta/y', 'three', { qos: 0, properties: { topicAlias: 1 } });
    await pub.publishAsync('', 'four', { qos: 1, properties: { topicAlias: 1 } });
    await pub.publishAsync('ta/z', 'five', { qos: 1, properties: { topicAlias: 2 } });
    await pub.publishAsync('', 'six', { qos: 1, properties: { topicAlias: 1 } });
    await pub.publishAsync('', 'seven', { qos: 1, properties: { topicAlias: 2 } });
    const sentTopics = wire.out.filter((p) => p.cmd === 'publish').map((p) => (p as { topic: string }).topic);
    assert.deepEqual(sentTopics, ['ta/x', '', 'ta/y', '', 'ta/z', '', ''], 'the publisher really sent empty topics');
    const want = [
      ['ta/x', 'one'],
      ['ta/x', 'two'],
      ['ta/y', 'three'],
      ['ta/y', 'four'],
      ['ta/z', 'five'],
      ['ta/y', 'six'],
      ['ta/z', 'seven'],
    ];
    for (const b of boxes) {
      await b.until(7);
      assert.deepEqual(
        b.msgs.map((m) => [m.topic, m.payload]),
        want,
      );
      // neither subscriber announced a Topic Alias Maximum: no server→client aliases
      for (const m of b.msgs) assert.equal(m.packet.properties?.topicAlias, undefined);
    }
  }),
);

test('topic alias over the maximum, or 0, gets DISCONNECT 0x94; an unknown alias with an empty topic 0x82', T, () =>
  withBroker({ mqtt: { maxTopicAlias: 5 } }, async (tb) => {
    const raws: RawClient[] = [];
    let sub: MqttClient | undefined;
    try {
      sub = await connect(tb.url, { protocolVersion: 5, clientId: 'sub' });
      await sub.subscribeAsync('#', { qos: 1 });
      const inbox = new Inbox(sub);
      const cases: [string, string, number, number][] = [
        ['over', 'ta/x', 6, 0x94],
        ['zero', 'ta/x', 0, 0x94],
        ['unknown', '', 3, 0x82],
      ];
      for (const [id, topic, alias, rc] of cases) {
        const { client, connack } = await rawConnect(tb.port, { protocolVersion: 5, clientId: id });
        raws.push(client);
        assert.equal(connack.properties?.topicAliasMaximum, 5);
        // alias 5 (the maximum) is fine
        client.send({ cmd: 'publish', topic: 'ta/ok', payload: Buffer.from(`ok-${id}`), qos: 1, messageId: 1, retain: false, dup: false, properties: { topicAlias: 5 } });
        await client.next('puback');
        client.send({ cmd: 'publish', topic, payload: Buffer.from('bad'), qos: 1, messageId: 2, retain: false, dup: false, properties: { topicAlias: alias } });
        const d = (await client.next('disconnect')) as { reasonCode?: number };
        assert.equal(d.reasonCode, rc, `${id}: alias ${alias}`);
        await client.waitClose();
      }
      // aliases belong to one connection: a new one doesn't know alias 5
      const { client: fresh } = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'fresh' });
      raws.push(fresh);
      fresh.send({ cmd: 'publish', topic: '', payload: Buffer.from('bad'), qos: 0, retain: false, dup: false, properties: { topicAlias: 5 } });
      assert.equal(((await fresh.next('disconnect')) as { reasonCode?: number }).reasonCode, 0x82);
      await inbox.until(3);
      await quietFor(50, () => inbox.payloads.length === 3, 'none of the bad ones was published');
      assert.deepEqual(inbox.payloads, ['ok-over', 'ok-zero', 'ok-unknown'], 'none of the bad ones was published');
    } finally {
      for (const r of raws) r.destroy();
      await endAll(sub);
    }
  }),
);

test('message expiry: an expired queued message is not delivered to a resumed session; the others come with the interval decremented', T, () =>
  withBroker({}, async (tb, clients) => {
    const subOpts = { protocolVersion: 5 as const, clientId: 'persist', clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await connect(tb.url, subOpts);
    await first.subscribeAsync('me/#', { qos: 1 });
    await endAll(first);
    const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
    clients.push(pub);
    await pub.publishAsync('me/short', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync('me/long', 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await pub.publishAsync('me/none', 'none', { qos: 1 });
    await pub.publishAsync('me/short0', 'short0', { qos: 0, properties: { messageExpiryInterval: 1 } });
    await sleep(1300);
    const { client: again, inbox } = await connectInbox(tb.url, subOpts);
    clients.push(again);
    await inbox.until(2);
    await pub.publishAsync('me/end', 'end', { qos: 1 });
    await inbox.waitPayload('end');
    assert.deepEqual(inbox.payloads, ['long', 'none', 'end'], 'the expired ones were not delivered');
    const long = inbox.msgs[0].packet.properties?.messageExpiryInterval;
    assert.ok(long !== undefined && long <= 99 && long >= 90, `remaining interval decremented: ${long}`);
    assert.equal(inbox.msgs[1].packet.properties?.messageExpiryInterval, undefined, 'no expiry stays no expiry');
  }),
);

test('message expiry: forwarded live with the remaining interval; an expired retained message is not delivered', T, () =>
  withBroker({}, async (tb, clients) => {
    const { inbox, pub } = await subAndPub(tb, clients, 'mx/live');
    await pub.publishAsync('mx/live', 'live', { qos: 1, properties: { messageExpiryInterval: 30 } });
    const [m] = await inbox.until(1);
    const left = m.packet.properties?.messageExpiryInterval;
    assert.ok(left !== undefined && left <= 30 && left >= 29, `${left}`);

    await pub.publishAsync('mx/ret/short', 'short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync('mx/ret/long', 'long', { qos: 1, retain: true, properties: { messageExpiryInterval: 60 } });
    await sleep(1300);
    const { client: late, inbox: lateBox } = await connectInbox(tb.url, { protocolVersion: 5, clientId: 'late' });
    clients.push(late);
    await late.subscribeAsync('mx/ret/#', { qos: 1 });
    await pub.publishAsync('mx/ret/end', 'end', { qos: 1 });
    await lateBox.waitPayload('end');
    assert.deepEqual(lateBox.payloads, ['long', 'end']);
    const l = lateBox.msgs[0].packet.properties?.messageExpiryInterval;
    assert.ok(l !== undefined && l <= 59 && l >= 50, `retained remaining interval ${l}`);
  }),
);

test('no local: a subscription with No Local does not get its own messages; without it, it does', T, () =>
  withBroker({}, async (tb, clients) => {
    const a = await connect(tb.url, { protocolVersion: 5, clientId: 'a' });
    const b = await connect(tb.url, { protocolVersion: 5, clientId: 'b' });
    clients.push(a, b);
    await a.subscribeAsync('nl/t', { qos: 1, nl: true });
    await b.subscribeAsync('nl/t', { qos: 1, nl: false });
    const boxA = new Inbox(a);
    const boxB = new Inbox(b);
    await a.publishAsync('nl/t', 'from-a', { qos: 1 });
    await b.publishAsync('nl/t', 'from-b', { qos: 1 });
    await boxA.waitPayload('from-b');
    await boxB.until(2);
    assert.deepEqual(boxA.payloads, ['from-b'], 'a did not get its own message');
    assert.deepEqual(boxB.payloads, ['from-a', 'from-b'], 'b gets its own too');
  }),
);

test('mqtt.ignore_loop_deliver: no client gets its own messages back, v4 included', T, () =>
  withBroker({ mqtt: { ignoreLoopDeliver: true } }, async (tb, clients) => {
    const a = await connect(tb.url, { protocolVersion: 4, clientId: 'a' });
    const b = await connect(tb.url, { protocolVersion: 5, clientId: 'b' });
    clients.push(a, b);
    await a.subscribeAsync('loop/t', { qos: 1 });
    await b.subscribeAsync('loop/t', { qos: 1 });
    const boxA = new Inbox(a);
    const boxB = new Inbox(b);
    await a.publishAsync('loop/t', 'from-a', { qos: 1 });
    await b.publishAsync('loop/t', 'from-b', { qos: 1 });
    await boxA.waitPayload('from-b');
    await boxB.waitPayload('from-a');
    await quietFor(50, () => boxA.payloads.length === 1 && boxB.payloads.length === 1, 'no local: nobody gets its own message');
    assert.deepEqual(boxA.payloads, ['from-b']);
    assert.deepEqual(boxB.payloads, ['from-a']);
  }),
);

test('subscription identifiers: each delivery carries the ids of the subscriptions it matched', T, () =>
  withBroker({}, async (tb, clients) => {
    const sub = await connect(tb.url, { protocolVersion: 5, clientId: 'sub' });
    clients.push(sub);
    assert.notEqual(sub.serverProperties?.subscriptionIdentifiersAvailable, false);
    const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
    clients.push(pub);
    await pub.publishAsync('si/a', 'retained', { qos: 1, retain: true });
    const inbox = new Inbox(sub);
    await sub.subscribeAsync('si/+', { qos: 1, properties: { subscriptionIdentifier: 1 } });
    await sub.subscribeAsync('si/a', { qos: 1, properties: { subscriptionIdentifier: 2 } });
    await sub.subscribeAsync('other/#', { qos: 1 });
    await sub.subscribeAsync('far/#', { qos: 1, properties: { subscriptionIdentifier: 268435455 } });
    const ids = (m: { packet: { properties?: { subscriptionIdentifier?: number | number[] } } }) => {
      const v = m.packet.properties?.subscriptionIdentifier;
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    };
    // retained messages sent on subscribe carry the id of that subscription
    await inbox.until(2);
    assert.deepEqual(
      inbox.msgs.map((m) => [m.payload, ids(m)]),
      [
        ['retained', [1]],
        ['retained', [2]],
      ],
    );
    inbox.msgs.length = 0;

    await pub.publishAsync('si/a', 'both', { qos: 1 });
    await pub.publishAsync('si/b', 'one', { qos: 1 });
    await pub.publishAsync('other/x', 'none', { qos: 1 });
    await pub.publishAsync('far/x', 'max', { qos: 1 });
    await inbox.waitPayload('max');
    const idsFor = (p: string) => inbox.msgs.filter((m) => m.payload === p).map(ids);
    assert.deepEqual([...new Set(idsFor('both').flat())].sort(), [1, 2], 'si/a matched both subscriptions: ids 1 and 2');
    assert.deepEqual(idsFor('one'), [[1]], 'si/b matched only si/+');
    assert.deepEqual(idsFor('none'), [[]], 'a subscription without an id: no id');
    assert.deepEqual(idsFor('max'), [[268435455]], 'the largest id');

    // subscribing again with a new id replaces it
    await sub.subscribeAsync('si/+', { qos: 1, properties: { subscriptionIdentifier: 7 } });
    inbox.msgs.length = 0;
    await pub.publishAsync('si/b', 'again', { qos: 1 });
    await inbox.waitPayload('again');
    assert.deepEqual(ids(inbox.msgs.find((m) => m.payload === 'again')!), [7]);
  }),
);

test('user properties, payload format, content type, response topic and correlation data pass through unchanged', T, () =>
  withBroker({}, async (tb, clients) => {
    const s5 = await connect(tb.url, { protocolVersion: 5, clientId: 's5' });
    const s4 = await connect(tb.url, { protocolVersion: 4, clientId: 's4' });
    clients.push(s5, s4);
    await s5.subscribeAsync('pp/#', { qos: 2 });
    await s4.subscribeAsync('pp/#', { qos: 2 });
    const b5 = new Inbox(s5);
    const b4 = new Inbox(s4);
    const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
    clients.push(pub);
    const props = {
      payloadFormatIndicator: true,
      contentType: 'application/json; charset=utf-8',
      responseTopic: 'pp/reply/42',
      correlationData: Buffer.from([0, 1, 2, 0xfe, 0xff]),
      userProperties: { region: 'eu-west', trace: ['a', 'b'], 'emoji-ключ': 'значение ✓' },
    };
    for (const qos of [0, 1, 2] as const) await pub.publishAsync('pp/req', JSON.stringify({ qos }), { qos, properties: props });
    await pub.publishAsync('pp/ret', 'kept', { qos: 1, retain: true, properties: props });
    await b5.until(4);
    for (const m of b5.msgs) {
      const p = m.packet.properties!;
      assert.equal(p.payloadFormatIndicator, true);
      assert.equal(p.contentType, props.contentType);
      assert.equal(p.responseTopic, props.responseTopic);
      assert.deepEqual(Buffer.from(p.correlationData!), props.correlationData);
      assert.deepEqual({ ...p.userProperties }, props.userProperties);
    }
    // a v3.1.1 subscriber gets the same messages, without properties
    await b4.until(4);
    assert.deepEqual(b4.payloads, b5.payloads);
    // and the retained copy keeps them for a later subscriber
    const { client: late, inbox } = await connectInbox(tb.url, { protocolVersion: 5, clientId: 'late' });
    clients.push(late);
    await late.subscribeAsync('pp/ret', { qos: 1 });
    const [r] = await inbox.until(1);
    assert.equal(r.packet.retain, true);
    assert.equal(r.packet.properties?.contentType, props.contentType);
    assert.deepEqual({ ...r.packet.properties?.userProperties }, props.userProperties);
    assert.deepEqual(Buffer.from(r.packet.properties!.correlationData!), props.correlationData);
  }),
);

test('payload format indicator 1 with a payload that is not UTF-8: PUBACK 0x99, not published', T, () =>
  withBroker({}, async (tb, clients) => {
    const { inbox, pub } = await subAndPub(tb, clients, 'pf/#');
    const wire = new Wire(pub);
    await assert.rejects(pub.publishAsync('pf/bad', Buffer.from([0xc3, 0x28]), { qos: 1, properties: { payloadFormatIndicator: true } }), /Payload format invalid/);
    const ack = wire.in.find((p) => p.cmd === 'puback') as { reasonCode?: number };
    assert.equal(ack.reasonCode, 0x99);
    await pub.publishAsync('pf/good', 'ünïcödé', { qos: 1, properties: { payloadFormatIndicator: true } });
    await inbox.until(1);
    await quietFor(50, () => inbox.payloads.length === 1, 'the invalid payload was not published');
    assert.deepEqual(inbox.payloads, ['ünïcödé']);
    // the publisher's connection goes on
    assert.equal(pub.connected, true);
  }),
);

/**
 * Topic aliases from the broker to MQTT 5 clients (`mqtt.max_topic_alias_out`): MQTT.js
 * resolving them (QoS 0–2, properties, a large payload, retained and shared deliveries), the
 * bytes on the wire, LRU reassignment, reset on reconnect with DUP resends, and the clients
 * that must never get one (3.1.1, v5 without Topic Alias Maximum, the key at 0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt';
import { connect, quietFor, waitFor, withBroker } from './harness.js';
import { Inbox, Wire } from './observe.js';
import { rawConnect, type RawClient } from './raw-client.js';

const T = { timeout: 30_000 };

/** Every PUBLISH frame the raw client's socket receives from now on, as bytes. */
function publishFrames(c: RawClient): Buffer[] {
  const frames: Buffer[] = [];
  let pending = Buffer.alloc(0);
  c.socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      let len = 0;
      let mul = 1;
      let i = 1;
      for (; i < pending.length; i++) {
        len += (pending[i]! & 0x7f) * mul;
        mul *= 128;
        if ((pending[i]! & 0x80) === 0) break;
      }
      if (i >= pending.length || pending.length < i + 1 + len) return;
      const frame = pending.subarray(0, i + 1 + len);
      if (frame[0]! >> 4 === 3) frames.push(Buffer.from(frame));
      pending = pending.subarray(i + 1 + len);
    }
  });
  return frames;
}

/** The PUBLISHes a raw client got, as [topic, alias, payload]. */
function seen(c: RawClient): [string, number | undefined, string][] {
  return c.all.filter((p): p is IPublishPacket => p.cmd === 'publish').map((p) => [p.topic, p.properties?.topicAlias, p.payload.toString()]);
}

test('MQTT.js with Topic Alias Maximum 3 gets every topic right through aliases: QoS 0–2, properties, a large payload, retained and shared', T, () =>
  withBroker({}, async (tb, clients) => {
    const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
    clients.push(pub);
    await pub.publishAsync('ta/retained/a-rather-long-topic-name', 'kept', { qos: 1, retain: true });
    const sub = await connect(tb.url, { protocolVersion: 5, clientId: 'sub', properties: { topicAliasMaximum: 3 } });
    clients.push(sub);
    const wire = new Wire(sub);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync('ta/#', { qos: 2 });
    await inbox.waitPayload('kept');
    await sub.subscribeAsync('$share/g/shared/#', { qos: 1 });
    const topics = [
      'ta/site-1/building-7/temperature',
      'ta/site-1/building-7/humidity',
      'ta/site-2/building-1/temperature',
      'ta/site-2/building-1/pressure',
      'ta',
      'shared/site-9/building-4/co2',
    ];
    const big = 'L'.repeat(20_000);
    const want = new Map<string, string>([['kept', 'ta/retained/a-rather-long-topic-name']]);
    // more topics than aliases, some revisited soon (reused), some late (reassigned)
    const order = [0, 1, 0, 2, 0, 1, 3, 3, 0, 4, 5, 5, 1, 0, 2, 2, 4];
    for (let n = 0; n < order.length * 2; n++) {
      const topic = topics[order[n % order.length]!]!;
      const payload = n === 9 ? big : `m${n}`;
      want.set(payload, topic);
      await pub.publishAsync(topic, payload, { qos: (n % 3) as 0 | 1 | 2, properties: n % 4 === 0 ? { userProperties: { n: String(n) }, contentType: 'text/plain' } : {} });
    }
    await inbox.until(want.size);
    await quietFor(100, () => inbox.msgs.length === want.size, 'no duplicates');
    assert.deepEqual(new Map(inbox.msgs.map((m) => [m.payload, m.topic])), want, 'each message under its own topic');
    for (const m of inbox.msgs) {
      const n = Number(m.payload.slice(1));
      if (m.payload.startsWith('m') && n % 4 === 0) assert.deepEqual({ ...m.packet.properties?.userProperties }, { n: String(n) }, 'other properties pass with the alias');
    }
    const publishes = wire.in.filter((p): p is IPublishPacket => p.cmd === 'publish');
    for (const p of publishes) {
      const alias = p.properties?.topicAlias;
      if (p.topic === 'ta') assert.equal(alias, undefined, 'a topic shorter than the alias property goes as it is');
      else assert.ok(alias !== undefined && alias >= 1 && alias <= 3, `alias ${alias} within the client's maximum`);
    }
    assert.ok(publishes.filter((p) => p.topic === '').length >= 8, 'known topics went as an empty topic and the alias');
    const bound = new Map<number, string>();
    let rebound = 0;
    for (const p of publishes) {
      const alias = p.properties?.topicAlias;
      if (alias === undefined || p.topic === '') continue;
      if (bound.has(alias) && bound.get(alias) !== p.topic) rebound++;
      bound.set(alias, p.topic);
    }
    assert.ok(rebound > 0, 'aliases were reassigned to new topics');
  }),
);

const LONG = 'sensors/building-7/floor-3/room-12/temperature';

/** A raw v5 subscriber on `filter`; `topicAliasMaximum` undefined leaves the property out. */
async function rawSubscriber(
  port: number,
  clientId: string,
  filter: string,
  qos: 0 | 1,
  topicAliasMaximum: number | undefined,
  protocolVersion: 4 | 5 = 5,
  clean = true,
): Promise<RawClient> {
  const properties = protocolVersion === 5 ? { ...(topicAliasMaximum !== undefined ? { topicAliasMaximum } : {}), ...(clean ? {} : { sessionExpiryInterval: 60 }) } : undefined;
  const { client } = await rawConnect(port, { clientId, protocolVersion, clean, ...(properties ? { properties } : {}) });
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] });
  await client.next('suback');
  return client;
}

test('the bytes on the wire: the first PUBLISH carries topic and alias, the next an empty topic and the alias', T, () =>
  withBroker({}, async (tb, clients) => {
    const sub = await rawSubscriber(tb.port, 'raw-sub', 'sensors/#', 0, 2);
    clients.push(sub);
    const frames = publishFrames(sub);
    const pub = await connect(tb.url, { protocolVersion: 4, clientId: 'pub' });
    clients.push(pub);
    await pub.publishAsync(LONG, 'a', { qos: 0 });
    await pub.publishAsync(LONG, 'b', { qos: 0 });
    await waitFor(() => frames.length >= 2, 'two PUBLISH frames');
    const topic = Buffer.from(LONG);
    const first = [0x30, 2 + topic.length + 4 + 1, 0, topic.length, ...topic, 3, 0x23, 0, 1, 0x61];
    assert.deepEqual([...frames[0]!], first, 'topic, then property length 3: Topic Alias (0x23) = 1');
    assert.deepEqual([...frames[1]!], [0x30, 7, 0, 0, 3, 0x23, 0, 1, 0x62], 'empty topic (length 0), Topic Alias 1');
    // without the alias the second would be 1 + 1 + 2 + 46 + 1 + 1 = 52 bytes; it is 9
    assert.equal(frames[1]!.length, 9);
  }),
);

test('LRU: with Topic Alias Maximum 2 and three topics, the least recently used alias is reassigned (with its topic)', T, () =>
  withBroker({}, async (tb, clients) => {
    const sub = await rawSubscriber(tb.port, 'lru-sub', 'lru/#', 0, 2);
    clients.push(sub);
    const pub = await connect(tb.url, { protocolVersion: 4, clientId: 'pub' });
    clients.push(pub);
    const [a, b, c] = ['lru/topic-a', 'lru/topic-b', 'lru/topic-c'];
    const sent = [a, b, a, c, b, a, a, c];
    for (let i = 0; i < sent.length; i++) await pub.publishAsync(sent[i]!, String(i), { qos: 0 });
    await waitFor(() => seen(sub).length >= sent.length, `${sent.length} messages`);
    assert.deepEqual(seen(sub), [
      [a, 1, '0'],
      [b, 2, '1'],
      ['', 1, '2'], // a known
      [c, 2, '3'], // b was the least recently used: its alias goes to c
      [b, 1, '4'], // a was: b gets alias 1 again, with its topic
      [a, 2, '5'], // c was
      ['', 2, '6'],
      [c, 1, '7'],
    ]);
  }),
);

test('aliases belong to the connection: after a reconnect the DUP resends carry the topic again', T, () =>
  withBroker({}, async (tb, clients) => {
    const first = await rawSubscriber(tb.port, 'resume', 'r/#', 1, 5, 5, false);
    clients.push(first);
    const pub = await connect(tb.url, { protocolVersion: 4, clientId: 'pub' });
    clients.push(pub);
    const topic = 'r/some/long/topic/name';
    await pub.publishAsync(topic, 'one', { qos: 1 });
    await pub.publishAsync(topic, 'two', { qos: 1 });
    await waitFor(() => seen(first).length >= 2, 'two messages');
    assert.deepEqual(seen(first), [
      [topic, 1, 'one'],
      ['', 1, 'two'],
    ]);
    // not acknowledged: the session keeps both in flight and resends them on the next connection
    first.destroy();
    await waitFor(() => tb.broker.connection('resume') === undefined, 'the first connection to be gone');
    const { client: again, connack } = await rawConnect(tb.port, {
      clientId: 'resume',
      protocolVersion: 5,
      clean: false,
      properties: { topicAliasMaximum: 5, sessionExpiryInterval: 60 },
    });
    clients.push(again);
    assert.equal(connack.sessionPresent, true);
    await waitFor(() => seen(again).length >= 2, 'two resends');
    const resent = again.all.filter((p): p is IPublishPacket => p.cmd === 'publish');
    assert.deepEqual(seen(again), [
      [topic, 1, 'one'],
      ['', 1, 'two'],
    ]);
    assert.deepEqual(
      resent.map((p) => p.dup),
      [true, true],
    );
    for (const p of resent) again.send({ cmd: 'puback', messageId: p.messageId! });
  }),
);

test('no aliases for 3.1.1, for v5 without Topic Alias Maximum, or with mqtt.max_topic_alias_out 0; the key bounds the client', T, async () => {
  await withBroker({}, async (tb, clients) => {
    const v4 = await rawSubscriber(tb.port, 'v4', 'n/#', 0, undefined, 4);
    const v5plain = await rawSubscriber(tb.port, 'v5', 'n/#', 0, undefined);
    clients.push(v4, v5plain);
    const v4frames = publishFrames(v4);
    const pub = await connect(tb.url, { protocolVersion: 4, clientId: 'pub' });
    clients.push(pub);
    for (let i = 0; i < 3; i++) await pub.publishAsync(LONG.replace('sensors', 'n'), `p${i}`, { qos: 0 });
    await waitFor(() => seen(v4).length >= 3 && seen(v5plain).length >= 3, 'three messages each');
    for (const c of [v4, v5plain])
      assert.deepEqual(
        seen(c),
        [0, 1, 2].map((i) => [LONG.replace('sensors', 'n'), undefined, `p${i}`]),
      );
    const topic = Buffer.from(LONG.replace('sensors', 'n'));
    assert.deepEqual([...v4frames[2]!], [0x30, 2 + topic.length + 2, 0, topic.length, ...topic, ...Buffer.from('p2')], '3.1.1: the plain packet');
  });
  await withBroker({ mqtt: { maxTopicAliasOut: 0 } }, async (tb, clients) => {
    const sub = await rawSubscriber(tb.port, 'off', 'n/#', 0, 10);
    clients.push(sub);
    const pub = await connect(tb.url, { protocolVersion: 4, clientId: 'pub' });
    clients.push(pub);
    await pub.publishAsync('n/t/long', 'y', { qos: 0 });
    await pub.publishAsync('n/t/long', 'z', { qos: 0 });
    await waitFor(() => seen(sub).length >= 2, 'two messages');
    assert.deepEqual(seen(sub), [
      ['n/t/long', undefined, 'y'],
      ['n/t/long', undefined, 'z'],
    ]);
  });
  await withBroker({ mqtt: { maxTopicAliasOut: 2 } }, async (tb, clients) => {
    const sub = await rawSubscriber(tb.port, 'bounded', 'n/#', 0, 100);
    clients.push(sub);
    const pub = await connect(tb.url, { protocolVersion: 4, clientId: 'pub' });
    clients.push(pub);
    for (let i = 0; i < 6; i++) await pub.publishAsync(`n/topic-${i % 3}`, String(i), { qos: 0 });
    await waitFor(() => seen(sub).length >= 6, 'six messages');
    const aliases = seen(sub).map(([, alias]) => alias);
    assert.ok(
      aliases.every((a) => a === 1 || a === 2),
      `aliases within the key's 2 although the client accepts 100: ${JSON.stringify(aliases)}`,
    );
  });
});

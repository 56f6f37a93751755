/**
 * Shared subscriptions `$share/{group}/{filter}` and `$queue/{filter}` with MQTT.js at v4 and
 * v5: one member per message per group, every strategy doing what its name says, and QoS 1/2
 * messages of a member that goes away without acknowledging them going to another member.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient, IClientOptions } from 'mqtt';
import { startBroker, connect, endAll, waitFor, quietFor } from './harness.js';
import type { TestBroker } from './harness.js';
import { Inbox, Wire } from './observe.js';
import type { SharedStrategy } from '@vireo/broker';

const T = { timeout: 30_000 };

interface Member {
  id: string;
  client: MqttClient;
  inbox: Inbox;
}

async function members(tb: TestBroker, filter: string, n: number, opts: IClientOptions = {}, prefix = 'm'): Promise<Member[]> {
  const out: Member[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}${i}`;
    const client = await connect(tb.url, { protocolVersion: i % 2 === 0 ? 5 : 4, clientId: id, ...opts });
    await client.subscribeAsync(filter, { qos: 2 });
    out.push({ id, client, inbox: new Inbox(client) });
  }
  return out;
}

/** Waits until the members together hold `total` messages, then a little more to catch duplicates; returns payload → member id. */
async function settle(ms: Member[], total: number): Promise<Map<string, string[]>> {
  const count = () => ms.reduce((a, m) => a + m.inbox.msgs.length, 0);
  await waitFor(() => count() >= total, `the members to get ${total} messages (got ${count()})`, 10_000);
  await quietFor(100, () => count() <= total, 'no message twice');
  const who = new Map<string, string[]>();
  for (const m of ms) for (const g of m.inbox.msgs) who.set(g.payload, [...(who.get(g.payload) ?? []), m.id]);
  return who;
}

async function withBroker(strategy: SharedStrategy | undefined, fn: (tb: TestBroker, clients: MqttClient[]) => Promise<void>, extra = {}): Promise<void> {
  const tb = await startBroker({ mqtt: { ...(strategy ? { sharedSubscriptionStrategy: strategy } : {}), ...extra } });
  const clients: MqttClient[] = [];
  try {
    await fn(tb, clients);
  } finally {
    await endAll(...clients);
    await tb.close();
  }
}

for (const filter of ['$share/g/sh/t', '$queue/sh/t']) {
  test(`${filter}: each message reaches exactly one member of the group, at QoS 0, 1 and 2`, T, () =>
    withBroker(undefined, async (tb, clients) => {
      const group = await members(tb, filter, 3);
      const other = await members(tb, '$share/h/sh/+', 2, {}, 'h');
      const plain = await members(tb, 'sh/t', 1, {}, 'plain');
      clients.push(...[...group, ...other, ...plain].map((m) => m.client));
      const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      clients.push(pub);
      const sent: string[] = [];
      for (let i = 0; i < 30; i++) {
        const qos = (i % 3) as 0 | 1 | 2;
        sent.push(`m${i}`);
        await pub.publishAsync('sh/t', `m${i}`, { qos });
      }
      for (const [name, ms] of [
        ['group', group],
        ['second group', other],
      ] as const) {
        const who = await settle(ms, 30);
        assert.deepEqual([...who.keys()].sort(), [...sent].sort(), `${name}: every message arrived`);
        for (const [p, ids] of who) assert.equal(ids.length, 1, `${name}: ${p} went to ${ids.join(', ')}`);
        for (const m of ms) for (const g of m.inbox.msgs) assert.equal(g.packet.qos, Number(g.payload.slice(1)) % 3, 'QoS kept');
      }
      // a plain subscription next to the groups gets everything
      await plain[0].inbox.until(30);
      assert.deepEqual(plain[0].inbox.payloads, sent);
    }),
  );
}

test("round_robin (default): one publisher's messages go to the members in turn, evenly", T, () =>
  withBroker(undefined, async (tb, clients) => {
    const ms = await members(tb, '$share/g/rr/t', 3);
    clients.push(...ms.map((m) => m.client));
    const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
    clients.push(pub);
    for (let i = 0; i < 30; i++) await pub.publishAsync('rr/t', `${i}`, { qos: 1 });
    const who = await settle(ms, 30);
    for (const m of ms) assert.equal(m.inbox.msgs.length, 10, `${m.id} got ${m.inbox.msgs.length}`);
    const seq = Array.from({ length: 30 }, (_, i) => who.get(`${i}`)![0]);
    for (let i = 0; i + 3 <= 30; i++) assert.equal(new Set(seq.slice(i, i + 3)).size, 3, `messages ${i}..${i + 2} went to three different members: ${seq.join(',')}`);
  }),
);

test('round_robin_per_group: one turn for the whole group, whoever publishes', T, () =>
  withBroker('round_robin_per_group', async (tb, clients) => {
    const ms = await members(tb, '$share/g/rpg/t', 3);
    clients.push(...ms.map((m) => m.client));
    const pubs = [await connect(tb.url, { protocolVersion: 5, clientId: 'pa' }), await connect(tb.url, { protocolVersion: 4, clientId: 'pb' })];
    clients.push(...pubs);
    // two publishers take turns: with a per-group counter consecutive messages still go to different members
    for (let i = 0; i < 30; i++) await pubs[i % 2].publishAsync('rpg/t', `${i}`, { qos: 1 });
    const who = await settle(ms, 30);
    for (const m of ms) assert.equal(m.inbox.msgs.length, 10, `${m.id} got ${m.inbox.msgs.length}`);
    const seq = Array.from({ length: 30 }, (_, i) => who.get(`${i}`)![0]);
    for (let i = 0; i + 3 <= 30; i++) assert.equal(new Set(seq.slice(i, i + 3)).size, 3, `messages ${i}..${i + 2}: ${seq.join(',')}`);
  }),
);

test('random: every message to exactly one member, all members used', T, () =>
  withBroker('random', async (tb, clients) => {
    const ms = await members(tb, '$share/g/rnd/t', 3);
    clients.push(...ms.map((m) => m.client));
    const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
    clients.push(pub);
    for (let i = 0; i < 90; i++) await pub.publishAsync('rnd/t', `${i}`, { qos: 1 });
    const who = await settle(ms, 90);
    assert.equal(who.size, 90);
    for (const ids of who.values()) assert.equal(ids.length, 1);
    // with 90 messages the chance that a member gets none is 3·(2/3)^90 ≈ 4e-16
    for (const m of ms) assert.ok(m.inbox.msgs.length > 0, `${m.id} got none`);
  }),
);

test('sticky: all messages go to one member until it leaves, then all to one other member', T, () =>
  withBroker('sticky', async (tb, clients) => {
    const ms = await members(tb, '$share/g/st/t', 3);
    clients.push(...ms.map((m) => m.client));
    const pubs = [await connect(tb.url, { protocolVersion: 5, clientId: 'pa' }), await connect(tb.url, { protocolVersion: 4, clientId: 'pb' })];
    clients.push(...pubs);
    for (let i = 0; i < 20; i++) await pubs[i % 2].publishAsync('st/t', `a${i}`, { qos: 1 });
    await settle(ms, 20);
    const first = ms.filter((m) => m.inbox.msgs.length > 0);
    assert.equal(first.length, 1, `one member got all: ${ms.map((m) => m.inbox.msgs.length)}`);
    assert.equal(first[0].inbox.msgs.length, 20);

    await endAll(first[0].client);
    const rest = ms.filter((m) => m !== first[0]);
    for (let i = 0; i < 20; i++) await pubs[i % 2].publishAsync('st/t', `b${i}`, { qos: 1 });
    await settle(rest, 20);
    const second = rest.filter((m) => m.inbox.msgs.length > 0);
    assert.equal(second.length, 1, `after the sticky member left, one other got all: ${rest.map((m) => m.inbox.msgs.length)}`);
    assert.deepEqual(
      second[0].inbox.payloads,
      Array.from({ length: 20 }, (_, i) => `b${i}`),
    );
  }),
);

test("hash_clientid: each publisher's messages all go to the same member, also after it reconnects", T, () =>
  withBroker('hash_clientid', async (tb, clients) => {
    const ms = await members(tb, '$share/g/hc/t', 3);
    clients.push(...ms.map((m) => m.client));
    const owner = new Map<string, string>();
    for (let round = 0; round < 2; round++) {
      for (let p = 0; p < 8; p++) {
        const pub = await connect(tb.url, { protocolVersion: 5, clientId: `publisher-${p}` });
        for (let i = 0; i < 5; i++) await pub.publishAsync('hc/t', `${round}:${p}:${i}`, { qos: 1 });
        await endAll(pub);
      }
      const who = await settle(ms, 40 * (round + 1));
      for (let p = 0; p < 8; p++) {
        const got = new Set(Array.from({ length: 5 }, (_, i) => who.get(`${round}:${p}:${i}`)![0]));
        assert.equal(got.size, 1, `publisher-${p}: all its messages to one member (round ${round})`);
        const [m] = got;
        if (round === 0) owner.set(`publisher-${p}`, m);
        else assert.equal(m, owner.get(`publisher-${p}`), `publisher-${p} keeps its member after reconnecting`);
      }
    }
    assert.ok(new Set(owner.values()).size >= 2, `8 publishers spread over more than one member: ${[...owner.values()]}`);
  }),
);

test("hash_topic: each topic's messages go to the same member, whoever publishes", T, () =>
  withBroker('hash_topic', async (tb, clients) => {
    const ms = await members(tb, '$share/g/ht/+', 3);
    clients.push(...ms.map((m) => m.client));
    const pubs = [await connect(tb.url, { protocolVersion: 5, clientId: 'pa' }), await connect(tb.url, { protocolVersion: 4, clientId: 'pb' })];
    clients.push(...pubs);
    for (let t = 0; t < 8; t++) for (let i = 0; i < 6; i++) await pubs[i % 2].publishAsync(`ht/${t}`, `${t}:${i}`, { qos: 1 });
    const who = await settle(ms, 48);
    const owners = new Set<string>();
    for (let t = 0; t < 8; t++) {
      const got = new Set(Array.from({ length: 6 }, (_, i) => who.get(`${t}:${i}`)![0]));
      assert.equal(got.size, 1, `ht/${t}: all to one member`);
      owners.add([...got][0]);
    }
    assert.ok(owners.size >= 2, `8 topics spread over more than one member: ${[...owners]}`);
  }),
);

/**
 * A member that receives but never acknowledges (MQTT.js holding the ack), then drops its
 * connection: every message it had in flight or queued must reach the other member.
 */
async function redispatch(opts: { qos: 1 | 2; version: 4 | 5; filter: string; persistent: boolean; maxInflight?: number }): Promise<void> {
  const tb = await startBroker({ mqtt: { maxInflight: opts.maxInflight ?? 32 } });
  const clients: MqttClient[] = [];
  try {
    const stuckOpts: IClientOptions = { protocolVersion: opts.version, clientId: 'stuck' };
    if (opts.persistent) {
      stuckOpts.clean = false;
      if (opts.version === 5) stuckOpts.properties = { sessionExpiryInterval: 300 };
    }
    if (opts.version === 5) stuckOpts.customHandleAcks = () => undefined; // never acks
    const stuck = await connect(tb.url, stuckOpts);
    clients.push(stuck);
    if (opts.version === 4) stuck.handleMessage = () => undefined; // PUBACK never sent
    const stuckWire = new Wire(stuck);
    await stuck.subscribeAsync(opts.filter, { qos: 2 });
    const ok = await connect(tb.url, { protocolVersion: 5, clientId: 'ok' });
    clients.push(ok);
    await ok.subscribeAsync(opts.filter, { qos: 2 });
    const okBox = new Inbox(ok);
    const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
    clients.push(pub);
    const sent = Array.from({ length: 12 }, (_, i) => `r${i}`);
    for (const p of sent) await pub.publishAsync('rd/t', p, { qos: opts.qos });
    // round robin gave the stuck member half of them; it has seen at least the first
    await waitFor(() => stuckWire.in.some((p) => p.cmd === 'publish'), 'the stuck member to be sent messages');
    assert.ok(okBox.msgs.length < sent.length, 'the other member did not get everything yet');
    stuck.end(true); // drop the connection, no DISCONNECT, nothing acknowledged
    await okBox.until((m) => new Set(m.map((x) => x.payload)).size === sent.length, 5000, 'all messages at the remaining member');
    assert.deepEqual([...new Set(okBox.payloads)].sort(), [...sent].sort());
    for (const m of okBox.msgs) assert.equal(m.packet.qos, opts.qos);
  } finally {
    await endAll(...clients);
    await tb.close();
  }
}

test('QoS 1 in flight to a shared member that drops without acking is redispatched (v5, clean session)', T, () =>
  redispatch({ qos: 1, version: 5, filter: '$share/g/rd/t', persistent: false }),
);
test('QoS 2 in flight to a shared member that drops without PUBREC is redispatched (v5, persistent session)', T, () =>
  redispatch({ qos: 2, version: 5, filter: '$share/g/rd/t', persistent: true }),
);
test('QoS 1 in flight to a $queue member that drops without acking is redispatched (v4, persistent session)', T, () =>
  redispatch({ qos: 1, version: 4, filter: '$queue/rd/t', persistent: true }),
);
test('QoS 1 queued behind a full inflight window of a shared member that drops is redispatched (v4, clean session)', T, () =>
  redispatch({ qos: 1, version: 4, filter: '$share/g/rd/t', persistent: false, maxInflight: 1 }),
);

/** The packet handlers against a fake connection and a fake node (ChannelContext). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setParserProtocol, strictParser, type IConnectPacket, type Packet } from '@vireo/mqtt';
import type { BrokerHooks } from '../hooks.js';
import { FakeConnection, FakeContext } from '../testing/fakes.js';
import { Channel } from './channel.js';

function open(opts: { v?: 3 | 4 | 5; hooks?: BrokerHooks; ctx?: FakeContext; connect?: Partial<IConnectPacket> } = {}) {
  const ctx = opts.ctx ?? new FakeContext();
  if (opts.hooks) Object.assign(ctx.hooks, opts.hooks);
  const conn = new FakeConnection();
  const ch = new Channel(conn.asConnection(), ctx);
  const v = opts.v ?? 4;
  const connect: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: 'dev-1', clean: true, keepalive: 60, ...opts.connect };
  /** The packets the channel wrote since the last call, decoded. */
  const out = (): Packet[] => {
    const parser = strictParser();
    setParserProtocol(parser, v);
    const got: Packet[] = [];
    parser.on('packet', (p: Packet) => got.push(p));
    parser.parse(conn.take());
    return got;
  };
  return { ctx, conn, ch, connect, out };
}

async function connected(opts: Parameters<typeof open>[0] = {}) {
  const c = open(opts);
  c.ch.onPacket(c.connect);
  await new Promise((r) => setImmediate(r));
  c.out();
  return c;
}

test('CONNECT: CONNACK 0, the session opened and the client announced, keepalive x 1.5', async () => {
  const { ch, ctx, conn, connect, out } = open();
  ch.onPacket(connect);
  await new Promise((r) => setImmediate(r));
  const [connack] = out();
  assert.equal(connack.cmd, 'connack');
  assert.equal((connack as { returnCode?: number }).returnCode, 0);
  assert.deepEqual(ctx.lifecycle, ['open:dev-1', 'connected:dev-1']);
  assert.equal(conn.keepaliveMs, 90_000);
  assert.equal(ch.state, 'connected');
});

test('CONNECT refused: empty client id without clean session (3.1.1) gets rc 2 and the connection closes', async () => {
  const { ch, ctx, conn, connect, out } = open({ connect: { clientId: '', clean: false } });
  ch.onPacket(connect);
  await new Promise((r) => setImmediate(r));
  assert.equal((out()[0] as { returnCode?: number }).returnCode, 2);
  assert.equal(conn.closeReason, 'connack_error');
  assert.deepEqual(ctx.lifecycle, ['aborted:connack_error']);
});

test('a PUBLISH before CONNECT closes the connection (protocol_error) without an answer', () => {
  const { ch, conn, ctx, out } = open();
  ch.onPacket({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
  assert.deepEqual(out(), []);
  assert.equal(conn.closeReason, 'protocol_error');
  assert.deepEqual(ctx.published, []);
});

test('PUBLISH QoS 1: routed once and acknowledged; v5 with no subscriber gets PUBACK 0x10', async () => {
  const v4 = await connected();
  v4.ch.onPacket({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 5, retain: false, dup: false });
  assert.deepEqual(
    v4.ctx.published.map((m) => [m.topic, m.from]),
    [['a/b', 'dev-1']],
  );
  assert.deepEqual(
    v4.out().map((p) => [p.cmd, p.messageId]),
    [['puback', 5]],
  );
  const ctx = new FakeContext();
  ctx.matches = 0;
  const v5 = await connected({ v: 5, ctx });
  v5.ch.onPacket({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 6, retain: false, dup: false });
  assert.deepEqual(
    v5.out().map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode]),
    [['puback', 0x10]],
  );
});

test('durable acks: a PUBACK waits for the commit of what the message wrote; later ones queue behind it', async () => {
  const ctx = new FakeContext();
  ctx.store.durable = true;
  const publish = ctx.publish.bind(ctx);
  ctx.publish = (msg, from) => {
    if (msg.topic === 'writes') ctx.store.queued++;
    return publish(msg, from);
  };
  const c = await connected({ ctx });
  c.ch.onPacket({ cmd: 'publish', topic: 'writes', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false });
  c.ch.onPacket({ cmd: 'publish', topic: 'plain', payload: Buffer.from('x'), qos: 1, messageId: 2, retain: false, dup: false });
  assert.deepEqual(c.out(), [], 'nothing acknowledged before the commit');
  assert.equal(ctx.commits.length, 2);
  for (const [fn, arg] of ctx.commits) fn(arg, true);
  assert.deepEqual(
    c.out().map((p) => p.messageId),
    [1, 2],
  );
});

test('QoS 2 in: PUBREC, a DUP is acknowledged again but routed once, PUBREL gets PUBCOMP', async () => {
  const c = await connected();
  const p = { cmd: 'publish' as const, topic: 'q2', payload: Buffer.from('x'), qos: 2 as const, messageId: 3, retain: false, dup: false };
  c.ch.onPacket(p);
  c.ch.onPacket({ ...p, dup: true });
  c.ch.onPacket({ cmd: 'pubrel', messageId: 3 });
  assert.equal(c.ctx.published.length, 1);
  assert.deepEqual(
    c.out().map((x) => [x.cmd, x.messageId]),
    [
      ['pubrec', 3],
      ['pubrec', 3],
      ['pubcomp', 3],
    ],
  );
});

test('topic alias (v5): set, reused with an empty topic; alias 0 is DISCONNECT 0x94', async () => {
  const c = await connected({ v: 5 });
  const pub = (topic: string, alias: number) =>
    c.ch.onPacket({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: alias } });
  pub('a/b', 1);
  pub('', 1);
  assert.deepEqual(
    c.ctx.published.map((m) => m.topic),
    ['a/b', 'a/b'],
  );
  pub('c', 0);
  assert.deepEqual(
    c.out().map((x) => [x.cmd, (x as { reasonCode?: number }).reasonCode]),
    [['disconnect', 0x94]],
  );
  assert.equal(c.conn.closeReason, 'topic_alias_invalid');
});

test('SUBSCRIBE: SUBACK per filter (an invalid one 0x80), retained messages asked for the granted ones', async () => {
  const c = await connected();
  c.ch.onPacket({
    cmd: 'subscribe',
    messageId: 9,
    subscriptions: [
      { topic: 'a/+', qos: 2 },
      { topic: 'a/#/b', qos: 1 },
    ],
  });
  assert.deepEqual(
    c.out().map((x) => [x.cmd, (x as { granted?: number[] }).granted]),
    [['suback', [2, 0x80]]],
  );
  assert.deepEqual(
    c.ctx.subscribed.map(([f, o]) => [f, o.qos]),
    [['a/+', 2]],
  );
  assert.deepEqual(c.ctx.retainedAsked, ['a/+']);
  c.ch.onPacket({ cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['a/+'] });
  assert.deepEqual(
    c.out().map((x) => [x.cmd, x.messageId]),
    [['unsuback', 10]],
  );
});

test('an async authorizer holds later packets: PUBLISH order is kept', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const c = await connected({ hooks: { authorize: (_c, _a, topic) => (topic === 'slow' ? gate.then(() => true) : true) } });
  c.ch.onPacket({ cmd: 'publish', topic: 'slow', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
  assert.equal(c.conn.socket.paused, false, 'reading while nothing is held');
  c.ch.onPacket({ cmd: 'publish', topic: 'fast', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
  assert.equal(c.ctx.published.length, 0, 'held while the first is being authorized');
  assert.equal(c.conn.socket.paused, true, 'a held packet pauses reads: what waits is bounded');
  release();
  await gate;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    c.ctx.published.map((m) => m.topic),
    ['slow', 'fast'],
  );
  assert.equal(c.conn.socket.paused, false, 'reading again once nothing is held');
});

test('PINGREQ gets PINGRESP; DISCONNECT drops the will, 0x04 (v5) keeps it', async () => {
  const c = await connected({ connect: { will: { topic: 'w', payload: Buffer.from('bye'), qos: 0, retain: false } } });
  c.ch.onPacket({ cmd: 'pingreq' });
  assert.deepEqual(
    c.out().map((x) => x.cmd),
    ['pingresp'],
  );
  assert.ok(c.ch.will);
  c.ch.onPacket({ cmd: 'disconnect' });
  assert.equal(c.ch.will, undefined);
  assert.deepEqual(c.ctx.lifecycle.slice(-1), ['closed:dev-1:normal']);
  const v5 = await connected({ v: 5, connect: { will: { topic: 'w', payload: Buffer.from('bye'), qos: 0, retain: false } } });
  v5.ch.onPacket({ cmd: 'disconnect', reasonCode: 0x04 });
  assert.ok(v5.ch.will, 'DISCONNECT 0x04 asks for the will');
});

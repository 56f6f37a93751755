/**
 * Bad input: malformed packets and non-MQTT bytes close only the connection that sent them
 * (v5: DISCONNECT 0x81 Malformed Packet or 0x82 Protocol Error first), each logs a
 * `Parse failed` line with the reason, clientid, peer and the frame in hex (bounded), and a
 * well-behaved client beside them keeps publishing and receiving. Also the maximum packet
 * size: an announced remaining length over the limit is refused (v5 0x95) at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type { IDisconnectPacket, Packet } from 'mqtt-packet';
import { startBroker, connect, endAll } from './harness.js';
import { RawClient, varint } from './raw-client.js';
import { captureLog } from './log-capture.js';
import type { CapturedLog, LogLine } from './log-capture.js';
import { Bystander, bystanderProblems } from './bystander.js';

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;
const PACKET_TOO_LARGE = 0x95;

const hex = (b: Buffer | number[]) => Buffer.from(b).toString('hex');

/** A frame from a first byte and a body, with the remaining length computed. */
function frame(first: number, ...body: (number[] | Buffer)[]): Buffer {
  const b = Buffer.concat(body.map((x) => Buffer.from(x)));
  return Buffer.concat([Buffer.from([first, ...varint(b.length)]), b]);
}

function str(bytes: number[] | Buffer): number[] {
  const b = Buffer.from(bytes);
  return [b.length >> 8, b.length & 0xff, ...b];
}

/** QoS 0 PUBLISH with raw topic bytes; v5 adds an empty property length. */
function publishFrame(v: 4 | 5, topic: number[] | Buffer, payload: Buffer = Buffer.from('x')): Buffer {
  return frame(0x30, str(topic), v === 5 ? [0] : [], payload);
}

/** SUBSCRIBE (packet id 1) with raw filter bytes at QoS 0. */
function subscribeFrame(v: 4 | 5, filter: number[] | Buffer): Buffer {
  return frame(0x82, [0, 1], v === 5 ? [0] : [], str(filter), [0]);
}

function gen(p: Packet, v: 4 | 5 = 4): Buffer {
  return mqttPacket.generate(p, { protocolVersion: v });
}

function connectFrame(clientId: string, extra: Partial<mqttPacket.IConnectPacket> = {}): Buffer {
  return gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 30, ...extra });
}

/** Index of the connect flags byte in a 3.1.1 CONNECT with a one-byte remaining length. */
const CONNECT_FLAGS_AT = 9;

interface Case {
  name: string;
  /** 0: sent as the first bytes, without CONNECT; 4 or 5: after a successful CONNECT of that version. */
  v: 0 | 4 | 5;
  bytes: Buffer;
  /** What the `reason` of the log line says. */
  reason: RegExp;
  /** v5: the DISCONNECT reason code expected before the close. */
  rc?: number;
  /** frame_data: exact hex of the bytes (default), or only this prefix. */
  framePrefix?: Buffer;
}

function cases(): Case[] {
  const list: Case[] = [];
  // before CONNECT
  const http = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n');
  list.push({ name: 'an HTTP request on the MQTT port', v: 0, bytes: http, reason: /header flag|not supported|invalid/i, framePrefix: http.subarray(0, 14) });
  const reserved = connectFrame('reserved-bit');
  reserved[CONNECT_FLAGS_AT] |= 0x01;
  list.push({ name: 'CONNECT with the reserved flag bit set', v: 0, bytes: reserved, reason: /bit 0/ });
  const willQos3 = connectFrame('will-qos3', { will: { topic: 'w', payload: Buffer.from('x'), qos: 2, retain: false } });
  willQos3[CONNECT_FLAGS_AT] |= 0x18;
  list.push({ name: 'CONNECT with Will QoS 3', v: 0, bytes: willQos3, reason: /Will QoS/i });
  const willRetainNoWill = connectFrame('will-retain');
  willRetainNoWill[CONNECT_FLAGS_AT] |= 0x20;
  list.push({ name: 'CONNECT with Will Retain but no Will', v: 0, bytes: willRetainNoWill, reason: /Will Retain/i });
  const badId = connectFrame('ab');
  badId.set([0xc3, 0x28], badId.length - 2);
  list.push({ name: 'CONNECT with invalid UTF-8 in the client id', v: 0, bytes: badId, reason: /UTF-8/ });
  const cut = connectFrame('abcdef');
  const cutShort = Buffer.concat([cut.subarray(0, cut.length - 3)]);
  cutShort[1] -= 3;
  list.push({ name: 'CONNECT whose remaining length cuts the client id string', v: 0, bytes: cutShort, reason: /short|parse/i });
  list.push({ name: 'packet type 0 (reserved)', v: 0, bytes: Buffer.from([0x00, 0x00]), reason: /not supported/i });
  list.push({ name: 'a remaining length of five bytes', v: 0, bytes: Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), reason: /variable byte integer/i });

  for (const v of [4, 5] as const) {
    const after = (c: Omit<Case, 'v'>) => list.push({ ...c, v, name: `v${v}: ${c.name}` });
    after({ name: 'PUBREL with fixed header flags 0000', bytes: Buffer.from([0x60, 0x02, 0x00, 0x01]), reason: /header flag/i, rc: MALFORMED });
    after({ name: 'SUBSCRIBE with fixed header flags 0000', bytes: frame(0x80, [0, 1], v === 5 ? [0] : [], str(Buffer.from('a')), [0]), reason: /header flag/i, rc: MALFORMED });
    after({ name: 'PUBACK with fixed header flags 0001', bytes: Buffer.from([0x41, 0x02, 0x00, 0x01]), reason: /header flag/i, rc: MALFORMED });
    after({ name: 'PUBLISH with QoS 3', bytes: frame(0x36, str(Buffer.from('a')), [0, 1], v === 5 ? [0] : [], Buffer.from('x')), reason: /QoS/, rc: MALFORMED });
    after({ name: 'PUBACK with remaining length 1', bytes: Buffer.from([0x40, 0x01, 0x00]), reason: /remaining length/, rc: MALFORMED });
    after({ name: 'PINGREQ with remaining length 1', bytes: Buffer.from([0xc0, 0x01, 0x00]), reason: /after the last field/, rc: MALFORMED });
    after({ name: 'PUBLISH whose topic string runs past the packet', bytes: Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]), reason: /topic/i, rc: MALFORMED });
    after({
      name: 'SUBSCRIBE whose filter string runs past the packet',
      bytes: frame(0x82, [0, 1], v === 5 ? [0] : [], [0, 40, 0x61, 0x62]),
      reason: /topic|subscribe/i,
      rc: MALFORMED,
    });
    after({ name: 'invalid UTF-8 (C3 28) in a PUBLISH topic', bytes: publishFrame(v, [0x61, 0x2f, 0xc3, 0x28]), reason: /UTF-8/, rc: MALFORMED });
    after({ name: 'NUL in a PUBLISH topic', bytes: publishFrame(v, [0x61, 0x00, 0x62]), reason: /U\+0000/, rc: MALFORMED });
    after({ name: 'invalid UTF-8 (C3 28) in a SUBSCRIBE filter', bytes: subscribeFrame(v, [0x61, 0x2f, 0xc3, 0x28]), reason: /UTF-8/, rc: MALFORMED });
    after({ name: 'SUBSCRIBE with no topic filter', bytes: frame(0x82, [0, 1], v === 5 ? [0] : []), reason: /no topic filter/, rc: PROTOCOL_ERROR });
    after({ name: 'UNSUBSCRIBE with no topic filter', bytes: frame(0xa2, [0, 1], v === 5 ? [0] : []), reason: /no topic filter/, rc: PROTOCOL_ERROR });
    after({ name: 'an HTTP request after CONNECT', bytes: http, reason: /header flag|not supported|invalid/i, rc: MALFORMED, framePrefix: http.subarray(0, 14) });
    // a long frame: frame_data is cut, not the whole 4 KB
    const long = publishFrame(v, [0x61, 0xc3, 0x28], Buffer.alloc(4096, 0x41));
    after({ name: 'a 4 KB PUBLISH with an invalid topic (frame_data bounded)', bytes: long, reason: /UTF-8/, rc: MALFORMED, framePrefix: long.subarray(0, 16) });
  }
  // v5 only
  list.push({
    name: 'v5: Topic Alias property twice',
    v: 5,
    bytes: frame(0x30, str(Buffer.from('a')), [6, 0x23, 0, 1, 0x23, 0, 2], Buffer.from('x')),
    reason: /more than once/,
    rc: PROTOCOL_ERROR,
  });
  list.push({ name: 'v5: unknown property identifier', v: 5, bytes: frame(0x30, str(Buffer.from('a')), [2, 0x7f, 0], Buffer.from('x')), reason: /property/i, rc: MALFORMED });
  list.push({ name: 'v5: property length past the packet', v: 5, bytes: frame(0x30, str(Buffer.from('a')), [40, 0x01]), reason: /./, rc: MALFORMED });
  list.push({
    name: 'v5: Subscription Identifier 0 in SUBSCRIBE',
    v: 5,
    bytes: frame(0x82, [0, 1], [2, 0x0b, 0], str(Buffer.from('a')), [0]),
    reason: /Subscription Identifier/,
    rc: PROTOCOL_ERROR,
  });
  return list;
}

function parseFailedFor(log: CapturedLog, peer: string): LogLine[] {
  return log.find('Parse failed').filter((l) => l.peer === peer);
}

test('malformed packets close only their own connection, with DISCONNECT 0x81/0x82 (v5) and a Parse failed log line', { timeout: 60_000 }, async (t) => {
  const log = captureLog('info');
  const tb = await startBroker({ logger: log.logger, mqtt: { idleTimeout: 2000 } });
  const bystander = await Bystander.start(tb.url, { protocolVersion: 5 });
  const all = cases();
  try {
    for (const [i, c] of all.entries()) {
      await t.test(c.name, { timeout: 10_000 }, async () => {
        const raw = await RawClient.open(tb.port);
        try {
          const clientId = c.v ? `bad-${i}` : undefined;
          if (c.v) {
            const ack = await raw.connect({ clientId, protocolVersion: c.v, keepalive: 30 });
            assert.equal(c.v === 5 ? ack.reasonCode : ack.returnCode, 0);
          }
          const peer = `${raw.socket.localAddress}:${raw.socket.localPort}`;
          const before = raw.all.length;
          raw.send(c.bytes);
          await raw.waitClose(3000);
          const after = raw.all.slice(before);
          if (c.v === 5) {
            assert.deepEqual(
              after.map((p) => [p.cmd, (p as IDisconnectPacket).reasonCode]),
              [['disconnect', c.rc]],
              'v5: one DISCONNECT with the reason code, then the close',
            );
          } else {
            assert.deepEqual(
              after.map((p) => p.cmd),
              [],
              'before CONNECT or v3.1.1: nothing but the close',
            );
          }
          assert.deepEqual(raw.parseErrors, [], 'what the broker sent was well formed');
          const lines = parseFailedFor(log, peer);
          assert.equal(lines.length, 1, `one Parse failed line for ${peer}: ${JSON.stringify(log.lines.filter((l) => l.peer === peer))}`);
          const [line] = lines;
          assert.match(String(line.reason), c.reason);
          assert.equal(line.clientid, clientId);
          assert.equal(typeof line.frame_data, 'string');
          const fd = line.frame_data as string;
          assert.ok(fd.length <= 512, `frame_data bounded to 256 bytes, was ${fd.length / 2}`);
          if (c.framePrefix) assert.ok(fd.startsWith(hex(c.framePrefix)), `frame_data ${fd.slice(0, 40)}… starts with ${hex(c.framePrefix)}`);
          else assert.equal(fd, hex(c.bytes));
          // the connection ended as frame_error in the log for a connected client
          if (c.v) {
            const disc = log.find('Client disconnected').filter((l) => l.clientid === clientId);
            assert.deepEqual(
              disc.map((l) => l.reason),
              ['frame_error'],
            );
          }
        } finally {
          raw.destroy();
        }
      });
    }
    const report = await bystander.stop();
    assert.deepEqual(bystanderProblems(report, 10), [], 'the well-behaved client beside them was not disturbed');
    assert.equal(tb.broker.listenerStats()[0].shutdownCount.frame_error, all.length, 'every bad connection counted as frame_error');
    // and the node still takes new clients
    const late = await connect(tb.url, { protocolVersion: 4 });
    await endAll(late);
  } finally {
    await bystander.destroy();
    await tb.close();
  }
});

test('a remaining length over max_packet_size is refused at once (v5 DISCONNECT 0x95), without waiting for the body', { timeout: 20_000 }, async () => {
  const log = captureLog('info');
  const max = 1024;
  const tb = await startBroker({ logger: log.logger, mqtt: { maxPacketSize: max } });
  const clients: RawClient[] = [];
  const bystander = await Bystander.start(tb.url, { protocolVersion: 4 });
  try {
    for (const v of [4, 5] as const) {
      // announce 64 MB but send only the header and a few bytes of the body
      const c = await RawClient.open(tb.port);
      clients.push(c);
      await c.connect({ clientId: `big-${v}`, protocolVersion: v });
      const before = c.all.length;
      const start = Date.now();
      c.send(Buffer.from([0x30, ...varint(64 * 1024 * 1024), 0x00, 0x01, 0x61]));
      await c.waitClose(2000);
      assert.ok(Date.now() - start < 1500, 'closed at once');
      const after = c.all.slice(before).map((p) => [p.cmd, (p as IDisconnectPacket).reasonCode]);
      assert.deepEqual(after, v === 5 ? [['disconnect', PACKET_TOO_LARGE]] : []);
      const line = log.find('Packet too large').find((l) => l.clientid === `big-${v}`);
      assert.ok(line, 'Packet too large logged');
      assert.equal(line.size, 64 * 1024 * 1024);
    }
    // a whole packet just over the limit, in one write
    const c = await RawClient.open(tb.port);
    clients.push(c);
    await c.connect({ clientId: 'whole', protocolVersion: 5 });
    c.send(gen({ cmd: 'publish', topic: 't', payload: Buffer.alloc(max), qos: 0, retain: false, dup: false }, 5));
    await c.waitClose(2000);
    assert.deepEqual(
      c.all.slice(1).map((p) => [p.cmd, (p as IDisconnectPacket).reasonCode]),
      [['disconnect', PACKET_TOO_LARGE]],
    );
    // a packet at the limit is accepted
    const ok = await RawClient.open(tb.port);
    clients.push(ok);
    await ok.connect({ clientId: 'at-limit', protocolVersion: 5 });
    const fits = gen({ cmd: 'publish', topic: 't', payload: Buffer.alloc(max - 9), qos: 1, messageId: 7, retain: false, dup: false }, 5);
    assert.equal(fits.length, max, 'a packet of exactly max_packet_size bytes');
    ok.send(fits);
    const ack = await ok.next('puback', 2000);
    assert.equal((ack as { messageId?: number }).messageId, 7);
    assert.equal(ok.closed, false);
    assert.equal(tb.broker.listenerStats()[0].shutdownCount.frame_too_large, 3);
    assert.deepEqual(bystanderProblems(await bystander.stop(), 10), []);
  } finally {
    clients.forEach((c) => c.destroy());
    await bystander.destroy();
    await tb.close();
  }
});

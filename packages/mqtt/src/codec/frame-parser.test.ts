/**
 * FrameParser against the strict parser it stands in front of: the same packets (the fields
 * the broker reads) and the same errors for the same bytes, however the stream is split.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { encode } from './encode.js';
import { FrameParser } from './frame-parser.js';
import { setParserProtocol, strictParser } from './strict-parser.js';

interface Seen {
  packets: Packet[];
  errors: { message: string; frame: string }[];
}

function viaFrames(chunks: Buffer[], version: number): Seen & { parser: FrameParser } {
  const seen: Seen = { packets: [], errors: [] };
  const parser = new FrameParser({ packet: (p) => seen.packets.push(p), error: (e, f) => seen.errors.push({ message: e.message, frame: f.toString('hex') }) });
  parser.setProtocolVersion(version);
  for (const c of chunks) parser.parse(c);
  return { ...seen, parser };
}

function viaStrict(stream: Buffer, version: number): Seen {
  const seen: Seen = { packets: [], errors: [] };
  const p = strictParser();
  setParserProtocol(p, version);
  p.on('packet', (x: Packet) => seen.packets.push(x));
  p.on('error', (e: Error) => seen.errors.push({ message: e.message, frame: '' }));
  p.parse(stream);
  return seen;
}

/** What the broker reads of a packet; absent and undefined are the same. */
function fields(p: Packet): Record<string, unknown> {
  const x = p as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ['cmd', 'qos', 'dup', 'retain', 'length', 'topic', 'messageId', 'reasonCode', 'properties']) if (x[k] !== undefined && x[k] !== null) out[k] = x[k];
  if (Buffer.isBuffer(x.payload)) out.payload = x.payload.toString('hex');
  if (p.cmd !== 'publish') delete out.qos;
  return out;
}

function flow(version: 4 | 5): Buffer[] {
  const v = { protocolVersion: version };
  const out: Buffer[] = [
    encode({ cmd: 'publish', topic: 'bench/1', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false }, v),
    encode({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(300, 7), qos: 1, messageId: 513, retain: true, dup: true }, v),
    encode({ cmd: 'publish', topic: 'ü/€', payload: Buffer.alloc(0), qos: 2, messageId: 65535, retain: false, dup: false }, v),
    encode({ cmd: 'puback', messageId: 1 }, v),
    encode({ cmd: 'pubrec', messageId: 2 }, v),
    encode({ cmd: 'pubrel', messageId: 3 }, v),
    encode({ cmd: 'pubcomp', messageId: 4 }, v),
    encode({ cmd: 'pingreq' }, v),
    encode({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'x/#', qos: 1 }] }, v),
    encode({ cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['x/#'] }, v),
  ];
  if (version === 5) {
    // v5 forms handed to the strict parser: properties, a reason code other than success
    out.push(
      encode(
        { cmd: 'publish', topic: '', payload: Buffer.from('p'), qos: 1, messageId: 7, retain: false, dup: false, properties: { topicAlias: 3, userProperties: { a: 'b' } } },
        v,
      ),
    );
    out.push(encode({ cmd: 'puback', messageId: 8, reasonCode: 0x10 }, v));
    out.push(encode({ cmd: 'pubrec', messageId: 9, reasonCode: 0, properties: { reasonString: 'ok' } }, v));
    out.push(Buffer.from([0x40, 0x03, 0x00, 0x0b, 0x00])); // PUBACK with reason code 0 written out
  }
  out.push(encode({ cmd: 'disconnect' }, v));
  return out;
}

for (const version of [4, 5] as const) {
  test(`v${version}: the same packets as the strict parser, split at every byte and in random pieces`, () => {
    const stream = Buffer.concat(flow(version));
    const want = viaStrict(stream, version).packets.map(fields);
    assert.equal(want.length, flow(version).length);
    for (let at = 0; at <= stream.length; at++) {
      const got = viaFrames([stream.subarray(0, at), stream.subarray(at)], version);
      assert.deepEqual(got.packets.map(fields), want, `split at ${at}`);
      assert.deepEqual(got.errors, []);
    }
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < stream.length;) {
        const n = 1 + Math.floor(rnd() * 40);
        chunks.push(stream.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(viaFrames(chunks, version).packets.map(fields), want, `round ${round}`);
    }
  });
}

test('the message flow is decoded in place; everything else goes to the strict parser', () => {
  const got = viaFrames(flow(5), 5).packets;
  const inPlace = got.filter((p) => Object.getPrototypeOf(p) === Object.prototype).map((p) => p.cmd);
  assert.deepEqual(inPlace, ['publish', 'publish', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'pingreq', 'puback']);
  const before = viaFrames(flow(4), 0).packets;
  assert.equal(before.filter((p) => Object.getPrototypeOf(p) === Object.prototype).length, 0, 'before CONNECT is handled: all by the strict parser');
});

test("malformed frames: the strict parser's error, the failed frame for the log, nothing after it", () => {
  const ok = encode({ cmd: 'puback', messageId: 1 }, { protocolVersion: 4 });
  const bad: [string, Buffer, RegExp][] = [
    ['PUBLISH with QoS 3', Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]), /QoS/],
    ['PUBREL with flags 0', Buffer.from([0x60, 0x02, 0x00, 0x01]), /header flag/],
    ['PUBACK with remaining length 3 in v4', Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00]), /after the last field/],
    ['PUBLISH topic past the packet', Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]), /topic/i],
    ['invalid UTF-8 in a topic', Buffer.from([0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, 0x78]), /UTF-8/],
    ['NUL in a topic', Buffer.from([0x30, 0x05, 0x00, 0x02, 0x61, 0x00, 0x78]), /U\+0000/],
    ['five remaining-length bytes', Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), /variable byte integer/],
    ['packet type 0', Buffer.from([0x00, 0x00]), /not supported/i],
  ];
  for (const [name, bytes, reason] of bad) {
    const got = viaFrames([Buffer.concat([ok, bytes, ok])], 4);
    assert.equal(got.packets.length, 1, `${name}: the packet before it only`);
    assert.equal(got.errors.length, 1, name);
    assert.match(got.errors[0].message, reason, name);
    assert.deepEqual(got.errors[0].message, viaStrict(bytes, 4).errors[0]?.message, `${name}: the strict parser's words`);
    assert.ok(got.errors[0].frame.startsWith(bytes.subarray(0, 1).toString('hex')), `${name}: frame for the log ${got.errors[0].frame}`);
  }
  // a bad first byte is refused at once, without waiting for the rest of the frame
  const http = viaFrames([Buffer.from('GET / HT')], 0);
  assert.match(http.errors[0]?.message ?? '', /header flag/);
});

test('a large frame over many reads: its announced length is known from its header, it is decoded once', () => {
  const big = encode({ cmd: 'publish', topic: 't', payload: Buffer.alloc(1 << 20, 5), qos: 1, messageId: 2, retain: false, dup: false }, { protocolVersion: 4 });
  const seen: Packet[] = [];
  const parser = new FrameParser({ packet: (p) => seen.push(p), error: (e) => assert.fail(e) });
  parser.setProtocolVersion(4);
  parser.parse(big.subarray(0, 2));
  assert.equal(parser.announced, -1, 'length not known yet');
  for (let at = 2; at < big.length; at += 65536) {
    parser.parse(big.subarray(at, Math.min(at + 65536, big.length)));
    if (at + 65536 < big.length) assert.equal(parser.announced, big.length - 4, 'the remaining length');
  }
  assert.equal(parser.announced, -1);
  assert.equal(seen.length, 1);
  const p = seen[0] as Packet & { payload: Buffer; messageId: number };
  assert.equal(p.payload.length, 1 << 20);
  assert.equal(p.messageId, 2);
  assert.ok(p.payload.every((b) => b === 5));
});

test('a transient parser (chunks reused after parse): packets keep their bytes when the buffer is overwritten, however the stream is split', () => {
  const packets: Packet[] = [
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: 'c1', username: 'u', password: Buffer.from('secret') },
    { cmd: 'publish', topic: 'a/b', payload: Buffer.from('first'), qos: 1, messageId: 7, retain: false, dup: false },
    // properties: decoded by the strict parser, which keeps views of what it is given
    {
      cmd: 'publish',
      topic: 'a/c',
      payload: Buffer.from('second'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { correlationData: Buffer.from('corr'), userProperties: { k: 'v' } },
    },
    { cmd: 'publish', topic: 'a/d', payload: Buffer.alloc(3000, 9), qos: 2, messageId: 8, retain: false, dup: false },
    { cmd: 'puback', messageId: 7, reasonCode: 0 },
  ] as Packet[];
  const stream = Buffer.concat(packets.map((p) => encode(p, { protocolVersion: 5 })));
  const expected = viaFrames([stream], 5).packets.map(fields);
  for (const size of [1, 3, 64, 1000, stream.length]) {
    const seen: Packet[] = [];
    // as the broker does: the message flow is decoded in place once CONNECT is handled
    const parser: FrameParser = new FrameParser({ packet: (p) => void (seen.push(p) === 1 && parser.setProtocolVersion(5)), error: (e) => assert.fail(e) }, true);
    const shared = Buffer.alloc(size);
    for (let at = 0; at < stream.length; at += size) {
      const n = stream.copy(shared, 0, at, Math.min(at + size, stream.length));
      parser.parse(shared.subarray(0, n));
      shared.fill(0xee); // the next read lands in the same buffer
    }
    assert.deepEqual(seen.map(fields), expected, `split every ${size} bytes`);
    const connect = seen[0] as Packet & { password: Buffer };
    assert.equal(connect.password.toString(), 'secret', `split every ${size} bytes`);
    const props = (seen[2] as Packet & { properties: { correlationData: Buffer } }).properties;
    assert.equal(props.correlationData.toString(), 'corr', `split every ${size} bytes`);
  }
});

test('a topic published again is recognised from its bytes; one that differs in any byte is decoded and checked anew', () => {
  const pub = (topic: Buffer, id: number): Buffer => {
    const head = Buffer.from([0x32, 2 + topic.length + 2 + 1, topic.length >> 8, topic.length & 255]);
    return Buffer.concat([head, topic, Buffer.from([id >> 8, id & 255, 0x78])]);
  };
  const topics = ['s/1/temp', 's/1/temp', 's/2/temp', 's/2/temp', 'é/x', 'é/x', 's/1/temp'].map((t) => Buffer.from(t));
  const got = viaFrames(
    topics.map((t, i) => pub(t, i + 1)),
    4,
  );
  assert.deepEqual(
    got.packets.map((p) => (p as Packet & { topic: string }).topic),
    ['s/1/temp', 's/1/temp', 's/2/temp', 's/2/temp', 'é/x', 'é/x', 's/1/temp'],
  );
  // same length as the remembered topic, but a NUL or bad UTF-8 in it: refused as before
  for (const bad of [Buffer.from('s/1/te\u0000p'), Buffer.from([0x73, 0x2f, 0x31, 0x2f, 0x74, 0xff, 0x6d, 0x70])]) {
    const seen = viaFrames([pub(Buffer.from('s/1/temp'), 1), pub(bad, 2)], 4);
    assert.equal(seen.packets.length, 1, `${bad.toString('hex')} after a good topic of its length`);
    assert.equal(seen.errors.length, 1);
  }
});

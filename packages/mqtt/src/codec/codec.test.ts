/**
 * What Vireo relies on in mqtt-packet, checked against the installed copy: its exact version
 * (pinned in package.json), the parser internals strict-parser.ts hooks, the strict checks it
 * adds, and the encoders. An mqtt-packet upgrade that changes any of it fails here first.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import type { Packet, Parser } from 'mqtt-packet';
import { encode, mqtt } from './encode.js';
import { encodePublish, encodePublishHead, payloadApart, SHARED_PAYLOAD_MIN, type EncodableDelivery } from './publish-encoder.js';
import { announcedLength, frameBytes, ProtocolViolation, setParserProtocol, strictParser } from './strict-parser.js';

const require = createRequire(import.meta.url);

function parse(bytes: number[], protocolVersion = 4): { packets: Packet[]; errors: Error[]; parser: Parser } {
  const parser = strictParser();
  if (protocolVersion !== 4) setParserProtocol(parser, protocolVersion);
  const packets: Packet[] = [];
  const errors: Error[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', (e: Error) => errors.push(e));
  parser.parse(Buffer.from(bytes));
  return { packets, errors, parser };
}

const str = (s: string | number[]): number[] => {
  const b = typeof s === 'string' ? [...Buffer.from(s)] : s;
  return [b.length >> 8, b.length & 0xff, ...b];
};

/** A 3.1.1 CONNECT with clean session and the given client id bytes (and extra payload). */
function connect(clientId: string | number[], flags = 0x02, rest: number[] = []): number[] {
  const body = [...str('MQTT'), 4, flags, 0, 60, ...str(clientId), ...rest];
  return [0x10, body.length, ...body];
}

test('mqtt-packet and bl are the exact versions @vireo/mqtt pins', () => {
  const pins = (require('../../package.json') as { dependencies: Record<string, string> }).dependencies;
  assert.equal((require('mqtt-packet/package.json') as { version: string }).version, pins['mqtt-packet']);
  assert.equal((require('bl/package.json') as { version: string }).version, pins.bl);
});

test('the parser internals strict-parser.ts hooks are there', () => {
  const raw = mqtt.parser({ protocolVersion: 4 }) as unknown as Record<string, unknown>;
  const proto = Object.getPrototypeOf(raw) as Record<string, unknown>;
  for (const fn of ['_parseString', '_parseProperties', '_parsePayload', '_emitError']) assert.equal(typeof proto[fn], 'function', fn);
  // the parser's state fields exist once a packet went through
  const parsed = mqtt.parser({ protocolVersion: 4 });
  parsed.parse(Buffer.from([0xc0, 0]));
  for (const field of ['_list', '_pos', '_stateCounter', 'packet', 'settings']) assert.ok(field in parsed, field);
  // our hooks are installed on the strict parser
  const strict = strictParser() as unknown as Record<string, unknown>;
  assert.notEqual(strict._parseString, proto._parseString);
  assert.notEqual(strict._parsePayload, proto._parsePayload);
});

test('well-formed packets pass: CONNECT, PUBLISH, SUBSCRIBE, PUBACK', () => {
  const pub = encode({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, messageId: 7, retain: false, dup: false }, { protocolVersion: 4 });
  const { packets, errors } = parse([...connect('dev-1'), ...pub, 0x82, 6, 0, 1, ...str('a'), 1, 0x40, 2, 0, 7]);
  assert.deepEqual(errors, []);
  assert.deepEqual(
    packets.map((p) => p.cmd),
    ['connect', 'publish', 'subscribe', 'puback'],
  );
  assert.equal((packets[1] as { topic: string }).topic, 'a/b');
});

test('strict checks: ill-formed UTF-8 and U+0000 in strings [MQTT-1.5.3-1/2]', () => {
  assert.match(parse(connect([0x61, 0xc3, 0x28])).errors[0]?.message ?? '', /Invalid UTF-8/);
  assert.match(parse(connect([0x61, 0x00])).errors[0]?.message ?? '', /U\+0000/);
  // a real U+FFFD is valid UTF-8
  assert.deepEqual(parse(connect('a\ufffd')).errors, []);
});

test('strict checks: fields must fill the remaining length exactly', () => {
  assert.match(parse([0x40, 1, 0]).errors[0]?.message ?? '', /run past the remaining length/);
  const trailing = parse([0xe0, 1, 0]); // DISCONNECT v4 with a byte after it
  assert.equal(trailing.packets.length, 0);
  assert.match(trailing.errors[0]?.message ?? '', /bytes after the last field/);
});

test('strict checks: Will QoS 3, empty SUBSCRIBE/UNSUBSCRIBE, Subscription Identifier 0, repeated properties', () => {
  assert.match(parse(connect('a', 0x02 | 0x04 | (3 << 3), [...str('t'), ...str('')])).errors[0]?.message ?? '', /Will QoS 3/);
  const emptySub = parse([0x82, 2, 0, 1]).errors[0];
  assert.ok(emptySub instanceof ProtocolViolation, String(emptySub));
  assert.ok(parse([0xa2, 2, 0, 1]).errors[0] instanceof ProtocolViolation);
  // v5 SUBSCRIBE with Subscription Identifier 0 (property 0x0B, varint 0)
  const subId0 = parse([0x82, 9, 0, 1, 2, 0x0b, 0, ...str('a'), 0], 5).errors[0];
  assert.match(String(subId0), /Subscription Identifier 0/);
  // v5 PUBLISH with Content Type (0x03) twice
  const props = [0x03, ...str('x'), 0x03, ...str('y')];
  const body = [...str('a'), props.length, ...props];
  const dup = parse([0x30, body.length, ...body], 5).errors[0];
  assert.ok(dup instanceof ProtocolViolation, String(dup));
  assert.match(dup.message, /contentType included more than once/);
});

test('frameBytes and announcedLength see the frame being received', () => {
  const { parser } = parse([0x30, 0x80, 0x01, 0, 1, 0x61]); // PUBLISH announcing 128 bytes, 3 arrived
  assert.equal(announcedLength(parser), 128);
  assert.deepEqual([...frameBytes(parser, 256)], [0x30, 0x80, 0x01, 0, 1, 0x61]);
  assert.deepEqual([...frameBytes(parser, 2)], [0x30, 0x80]);
});

test('encode: packets in every version; refusals throw', () => {
  assert.deepEqual([...encode({ cmd: 'pingresp' }, { protocolVersion: 4 })], [0xd0, 0]);
  assert.deepEqual([...encode({ cmd: 'puback', messageId: 258, reasonCode: 0x10 }, { protocolVersion: 5 })], [0x40, 4, 1, 2, 0x10, 0]);
  assert.throws(() => encode({ cmd: 'publish', topic: 'a', payload: 'x', qos: 1, retain: false, dup: false } as Packet, { protocolVersion: 4 }));
});

test('encodePublish: one encoding per variant shared by subscribers, packet id and DUP patched per copy', () => {
  const msg = { topic: 't', payload: Buffer.from('p'), properties: undefined, expiresAt: 0 };
  const d = (qos: 0 | 1 | 2): EncodableDelivery => ({ msg, qos, retain: false, subIds: undefined });
  const a = encodePublish(d(1), 1, false, false, Date.now());
  const b = encodePublish(d(1), 513, true, false, Date.now());
  assert.deepEqual([...a], [0x32, 6, 0, 1, 0x74, 0, 1, 0x70]);
  assert.deepEqual([...b], [0x3a, 6, 0, 1, 0x74, 2, 1, 0x70]);
  assert.deepEqual([...a], [0x32, 6, 0, 1, 0x74, 0, 1, 0x70], 'the first copy is not changed by the second');
  const q0 = encodePublish(d(0), 0, false, false, Date.now());
  assert.equal(encodePublish(d(0), 0, false, false, Date.now()), q0, 'QoS 0 subscribers share one buffer');
  // v5 with a subscription identifier and a shrinking expiry: encoded for this subscriber alone
  const now = Date.now();
  const personal = encodePublish({ msg: { ...msg, expiresAt: now + 10_500 }, qos: 0, retain: false, subIds: [5] }, 0, false, true, now);
  const decoder = mqtt.parser({ protocolVersion: 5 });
  let parsed: { properties?: { subscriptionIdentifier?: number; messageExpiryInterval?: number } } | undefined;
  decoder.on('packet', (p) => (parsed = p as typeof parsed));
  decoder.parse(personal);
  assert.ok(parsed, 'decoded');
  assert.equal(parsed.properties?.subscriptionIdentifier, 5);
  assert.equal(parsed.properties?.messageExpiryInterval, 11);
});

test('encodePublish writes a PUBLISH without properties itself: the bytes mqtt-packet writes, every variant and length', () => {
  for (const v5 of [false, true])
    for (const qos of [0, 1, 2] as const)
      for (const retain of [false, true])
        for (const size of [0, 1, 100, 116, 117, 127, 128, 16_370, 16_384, 2_097_140, 2_097_152])
          for (const topic of ['t', 'bench/42', 'ü/€/𝄞']) {
            const msg = { topic, payload: Buffer.alloc(size, size & 0xff), properties: undefined, expiresAt: 0 };
            const got = encodePublish({ msg, qos, retain, subIds: undefined }, 300, false, v5, 0);
            const want = encode({ cmd: 'publish', topic, payload: msg.payload, qos, retain, dup: false, ...(qos > 0 ? { messageId: 300 } : {}) }, { protocolVersion: v5 ? 5 : 4 });
            assert.ok(got.equals(want), `v5 ${v5} qos ${qos} retain ${retain} size ${size} topic ${topic}`);
          }
});

/** Decodes one v5 PUBLISH with mqtt-packet's parser. */
function decode5(bytes: Buffer): Packet & { topic: string; payload: Buffer; messageId?: number; dup: boolean; properties?: Record<string, unknown> } {
  const decoder = mqtt.parser({ protocolVersion: 5 });
  const got: Packet[] = [];
  const errors: Error[] = [];
  decoder.on('packet', (p: Packet) => got.push(p));
  decoder.on('error', (e: Error) => errors.push(e));
  decoder.parse(bytes);
  assert.deepEqual(errors, []);
  assert.equal(got.length, 1, 'exactly one packet');
  return got[0] as ReturnType<typeof decode5>;
}

test('encodePublish with a topic alias: topic and alias the first time, empty topic and alias after; every QoS, with and without properties', () => {
  const topic = 'site/building-7/floor-3/room-12/temperature';
  for (const properties of [undefined, { contentType: 'text/plain', userProperties: { a: 'b' } }])
    for (const qos of [0, 1, 2] as const) {
      const msg = { topic, payload: Buffer.from('21.5'), properties, expiresAt: 0 };
      const d: EncodableDelivery = { msg, qos, retain: false, subIds: undefined };
      const first = decode5(encodePublish(d, 7, false, true, 0, 3, true));
      const later = decode5(encodePublish(d, 8, true, true, 0, 3, false));
      assert.equal(first.topic, topic);
      assert.equal(first.properties?.topicAlias, 3);
      assert.equal(later.topic, '', 'a known alias goes without its topic');
      assert.equal(later.properties?.topicAlias, 3);
      assert.equal(later.dup, true);
      if (qos > 0) assert.deepEqual([first.messageId, later.messageId], [7, 8]);
      if (properties) assert.deepEqual({ ...(later.properties?.userProperties as object) }, { a: 'b' });
      assert.equal(later.payload.toString(), '21.5');
    }
  // the exact bytes of the common case: QoS 0, no other property
  const msg = { topic: 'abcd', payload: Buffer.from('x'), properties: undefined, expiresAt: 0 };
  const d: EncodableDelivery = { msg, qos: 0, retain: false, subIds: undefined };
  assert.deepEqual([...encodePublish(d, 0, false, true, 0, 1, true)], [0x30, 11, 0, 4, 0x61, 0x62, 0x63, 0x64, 3, 0x23, 0, 1, 0x78]);
  assert.deepEqual([...encodePublish(d, 0, false, true, 0, 1, false)], [0x30, 7, 0, 0, 3, 0x23, 0, 1, 0x78]);
  // without an alias the shared QoS 0 bytes are untouched by the aliased ones
  assert.deepEqual([...encodePublish(d, 0, false, true, 0)], [0x30, 8, 0, 4, 0x61, 0x62, 0x63, 0x64, 0, 0x78]);
});

test('encodePublishHead + the shared payload are the bytes encodePublish writes, for every variant; the payload is never copied', () => {
  const big = Buffer.alloc(64 * 1024, 7);
  const now = Date.now();
  for (const v5 of [false, true])
    for (const qos of [0, 1, 2] as const)
      for (const extra of ['none', 'props', 'personal', 'alias'] as const) {
        if (!v5 && extra !== 'none') continue;
        for (const size of [SHARED_PAYLOAD_MIN, 16_370, 65_536]) {
          const payload = big.subarray(0, size);
          const msg = { topic: 'fan/out', payload, properties: extra === 'props' ? { contentType: 'bin' } : undefined, expiresAt: extra === 'personal' ? now + 60_000 : 0 };
          const d: EncodableDelivery = { msg, qos, retain: qos === 2, subIds: extra === 'personal' ? [9] : undefined };
          const alias = extra === 'alias' ? 2 : 0;
          const whole = encodePublish(d, 4242, qos > 0, v5, now, alias, true);
          const head = encodePublishHead(d, 4242, qos > 0, v5, now, alias, true);
          assert.ok(Buffer.concat([head, payload]).equals(whole), `v5 ${v5} qos ${qos} ${extra} size ${size}`);
          assert.ok(head.length < 64, 'the header alone');
          assert.equal(payloadApart(d, v5, alias), qos > 0 || extra === 'personal' || extra === 'alias');
        }
      }
  // subscribers of one variant share the header bytes; each gets its own packet id in a copy
  const msg = { topic: 'fan/out', payload: big, properties: undefined, expiresAt: 0 };
  const d: EncodableDelivery = { msg, qos: 1, retain: false, subIds: undefined };
  const a = encodePublishHead(d, 1, false, false, now);
  const b = encodePublishHead(d, 2, false, false, now);
  assert.notEqual(a, b);
  assert.deepEqual([a[a.length - 2], a[a.length - 1], b[b.length - 2], b[b.length - 1]], [0, 1, 0, 2]);
  assert.equal(payloadApart({ ...d, msg: { ...msg, payload: Buffer.alloc(SHARED_PAYLOAD_MIN - 1) } }, false, 0), false, 'small payloads stay in one buffer');
});

test('a v5 property whose string runs past its properties is a malformed packet, never a null value passed on', () => {
  // PUBLISH QoS 0, topic "a", properties (3 bytes): Content Type claiming 16 bytes, then 0 of them
  const body = [...str('a'), 3, 0x03, 0x00, 0x10, ...Buffer.from('hi')];
  const { packets, errors } = parse([0x30, body.length, ...body], 5);
  assert.equal(packets.length, 0, 'nothing handed on');
  assert.equal(errors.length, 1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'node:v8';
import type { Message } from '../message.js';
import type { Delivery, SessionState } from '../session/types.js';
import {
  ENCODING_VERSION,
  EncodingVersionError,
  decodeDeliveryList,
  decodeSessionRow,
  decodeSessionState,
  decodeSubOptionsRecord,
  encodeDeliveryList,
  encodeSessionRow,
  encodeSessionState,
  encodeSubOptionsRecord,
} from './session.js';

const full: Message = {
  id: 0,
  topic: 'a/b/ü',
  payload: Buffer.from([0, 1, 2, 255]),
  qos: 2,
  retain: true,
  properties: {
    payloadFormatIndicator: true,
    messageExpiryInterval: 30,
    contentType: 'text/plain',
    responseTopic: 'r/1',
    correlationData: Buffer.from('corr'),
    userProperties: { k: ['1', '2'], j: 'x' },
  },
  from: 'pub-1',
  timestamp: 1_700_000_000_123,
  expiresAt: 1_700_000_030_123,
};
const bare: Message = { id: 0, topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, properties: undefined, from: '', timestamp: 5, expiresAt: 0 };
const d1: Delivery = { msg: full, qos: 1, retain: true, subIds: [1, 70_000], share: 'g/a/#' };
const d2: Delivery = { msg: bare, qos: 0, retain: false, subIds: undefined, share: undefined };

/** Every field of a session set, each flag both ways somewhere. */
const state: SessionState = {
  clientId: 'dev-ü-1',
  createdAt: 1_700_000_000_000,
  expiryInterval: 0xffffffff,
  subscriptions: [
    ['a/#', { qos: 2, nl: true, rap: false, rh: 2, subId: 7, share: 'g', aclCheck: true }],
    ['b/+', { qos: 0, nl: false, rap: true, rh: 1, subId: 0 }],
  ],
  inflight: [
    { pid: 1, delivery: d1, state: 'publish', sentAt: 1_700_000_000_500 },
    { pid: 65535, delivery: { ...d2, qos: 2 }, state: 'pubrel', sentAt: 1_700_000_000_600, held: true },
  ],
  mqueue: [d2, d1],
  awaitingRel: [
    [3, 1_700_000_000_700],
    [9, 1_700_000_000_800],
  ],
  nextPacketId: 12,
};

function plain<T>(v: T): T {
  // Buffers compare by content; Message ids are node-local (0 after decoding)
  return JSON.parse(JSON.stringify(v)) as T;
}

test('session state keeps every field: subscriptions, inflight QoS 1/2 with their state, queued messages, QoS 2 ids, expiry', () => {
  const back = decodeSessionState(encodeSessionState(state));
  assert.deepEqual(plain(back), plain(state));
  assert.ok(Buffer.isBuffer(back.mqueue[1]!.msg.payload));
  assert.ok(Buffer.isBuffer(back.mqueue[1]!.msg.properties!.correlationData));
  assert.equal(back.inflight[1]!.held, true);
  assert.equal(back.inflight[0]!.held, undefined);
  assert.equal(back.subscriptions[0]![1].aclCheck, true);
  assert.equal(back.mqueue[0]!.msg.properties, undefined);
});

test('encode caches and sampling marks stay behind', () => {
  const cached: SessionState = { ...state, mqueue: [{ ...d2, msg: { ...bare, encodedKey: 2, encodedOne: Buffer.from('y'), encoded: [Buffer.from('x')], sampledAt: 1 } }] };
  const back = decodeSessionState(encodeSessionState(cached));
  assert.equal(back.mqueue[0]!.msg.encoded, undefined);
  assert.equal(back.mqueue[0]!.msg.encodedOne, undefined);
  assert.equal(back.mqueue[0]!.msg.sampledAt, undefined);
});

test('delivery lists, session rows and subscription options round-trip', () => {
  assert.deepEqual(plain(decodeDeliveryList(encodeDeliveryList([d1, d2]))), plain([d1, d2]));
  assert.deepEqual(decodeDeliveryList(encodeDeliveryList([])), []);
  const row = { clientId: 'c', createdAt: 1, expiryInterval: 60, expiresAt: 1_700_000_060_000, subscriptions: state.subscriptions };
  assert.deepEqual(decodeSessionRow(encodeSessionRow(row)), row);
  for (const [, o] of state.subscriptions) assert.deepEqual(decodeSubOptionsRecord(encodeSubOptionsRecord(o)), o);
});

// golden bytes below: the bytes of version 1. If this fails, the layout changed: give it a new version (and keep
// reading this one) rather than updating the fixture — nodes and data dirs of the previous
// release write these bytes.
test('golden bytes: the version 1 layout of a session row and of a session state', () => {
  const row = { clientId: 'dev', createdAt: 2, expiryInterval: 60, expiresAt: 0, subscriptions: [['a/+', { qos: 1, nl: true, rap: false, rh: 0, subId: 5 }]] as [string, never][] };
  assert.equal(
    encodeSessionRow(row).toString('hex'),
    '5201' + '03000000646576' + '0000000000000040' + '3c000000' + '0000000000000000' + '01000000' + '03000000612f2b' + '05' + '05000000' + '00000000',
  );
  const s: SessionState = {
    clientId: 'c',
    createdAt: 1,
    expiryInterval: 0,
    subscriptions: [],
    inflight: [
      { pid: 2, delivery: { msg: { ...bare, topic: 't', payload: Buffer.from('p'), qos: 1 }, qos: 1, retain: false, subIds: [9], share: undefined }, state: 'pubrel', sentAt: 0 },
    ],
    mqueue: [],
    awaitingRel: [[4, 0]],
    nextPacketId: 3,
  };
  assert.equal(
    encodeSessionState(s).toString('hex'),
    '5301' +
      '0100000063' +
      '000000000000f03f' +
      '00000000' +
      '03000000' +
      '00000000' +
      // inflight: 1 × (u16 pid 2 | u8 pubrel | f64 0 | delivery: tag 2, qos 1 | hasSubIds, [9], message: tag 1, qos 1, ts 5, exp 0, "t", "", "p")
      '01000000' +
      '0200' +
      '01' +
      '0000000000000000' +
      '02' +
      '11' +
      '01000000' +
      '09000000' +
      '01' +
      '01' +
      '0000000000001440' +
      '0000000000000000' +
      '0100000074' +
      '00000000' +
      '0100000070' +
      '00000000' + // mqueue
      '01000000' +
      '0400' +
      '0000000000000000' + // awaitingRel
      '00000000', // extensions
  );
});

test('a newer version is refused with a clear error; a writer can be asked for the versions it supports only', () => {
  const bytes = encodeSessionState(state);
  bytes[1] = ENCODING_VERSION + 1;
  assert.throws(
    () => decodeSessionState(bytes),
    (err: unknown) => {
      assert.ok(err instanceof EncodingVersionError);
      assert.match(err.message, new RegExp(`session state encoding version ${ENCODING_VERSION + 1} is newer than this node reads \\(1\\.\\.${ENCODING_VERSION}\\)`));
      return true;
    },
  );
  assert.throws(() => encodeSessionState(state, ENCODING_VERSION + 1), EncodingVersionError);
  assert.throws(() => decodeSessionState(encodeDeliveryList([])), /not a session state record/);
});

test('extensions a later release adds within version 1 are skipped', () => {
  const bytes = encodeSessionRow({ clientId: 'c', createdAt: 1, expiryInterval: 5, expiresAt: 0, subscriptions: [] });
  // replace the empty extension list (last 4 bytes) by one unknown extension: key 9, 3 bytes
  const ext = Buffer.from('01000000' + '09' + '03000000' + 'aabbcc', 'hex');
  const extended = Buffer.concat([bytes.subarray(0, bytes.length - 4), ext]);
  assert.deepEqual(decodeSessionRow(extended), { clientId: 'c', createdAt: 1, expiryInterval: 5, expiresAt: 0, subscriptions: [] });
});

test('records of earlier releases (V8 serializer) still read', () => {
  const v8state = serialize({ ...state, mqueue: [], inflight: [] });
  assert.deepEqual(decodeSessionState(v8state).subscriptions, state.subscriptions);
  assert.deepEqual(plain(decodeDeliveryList(serialize([d2]))), plain([d2]));
  const row = { clientId: 'c', createdAt: 1, expiryInterval: 60, expiresAt: 9, subscriptions: [] };
  assert.deepEqual(decodeSessionRow(serialize(row)), row);
  assert.deepEqual(decodeSubOptionsRecord(serialize({ qos: 1, nl: false, rap: false, rh: 0, subId: 0 })), { qos: 1, nl: false, rap: false, rh: 0, subId: 0 });
});

test('a session pushed away by evacuation carries its delayed will and expiry time (extensions 1 and 2); a state without them is unchanged', () => {
  const pushed: SessionState = { ...state, expiryInterval: 600, will: { msg: full, fireAt: 1_700_000_100_000 }, expiresAt: 1_700_000_600_000 };
  const back = decodeSessionState(encodeSessionState(pushed));
  assert.deepEqual(plain(back), plain(pushed));
  assert.ok(Buffer.isBuffer(back.will!.msg.payload));
  // a reader of the plain layout (no extensions known) still reads everything else
  const plainBytes = encodeSessionState(state);
  const withExt = encodeSessionState({ ...state, will: { msg: bare, fireAt: 9 } });
  assert.deepEqual(withExt.subarray(0, plainBytes.length - 4), plainBytes.subarray(0, plainBytes.length - 4), 'only the extension list differs');
  assert.equal(decodeSessionState(plainBytes).will, undefined);
});

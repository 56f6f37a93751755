import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize } from 'node:v8';
import type { Delivery, SessionState } from '@vireo/broker';
import { decodeDeliveries, decodeState, encodeDeliveries, encodeState } from './session-codec.js';

const d: Delivery = {
  msg: { id: 7, topic: 'a/b', payload: Buffer.from('hi'), qos: 1, retain: false, properties: undefined, from: 'pub', timestamp: 1_700_000_000_000, expiresAt: 0 },
  qos: 1,
  retain: false,
  subIds: undefined,
  share: undefined,
};
const state: SessionState = {
  clientId: 'dev-1',
  createdAt: 1_700_000_000_000,
  expiryInterval: 3600,
  subscriptions: [['a/#', { qos: 1, nl: false, rap: false, rh: 0, subId: 0 }]],
  inflight: [{ pid: 3, delivery: d, state: 'publish', sentAt: 1_700_000_000_100 }],
  mqueue: [d, { ...d, msg: { ...d.msg, payload: Buffer.from('second') } }],
  awaitingRel: [[9, 1_700_000_000_200]],
  nextPacketId: 4,
};
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
/** As the receiver sees messages whose origin was not sent (a release before protocol 4): not known. */
const unknown = (s: SessionState): SessionState => ({
  ...s,
  mqueue: s.mqueue.map((x) => ({ ...x, msg: { ...x.msg, origin: '' } })),
  inflight: s.inflight.map((e) => ({ ...e, delivery: { ...e.delivery, msg: { ...e.delivery.msg, origin: '' } } })),
});
const noIds = (s: SessionState): SessionState => ({
  ...s,
  mqueue: s.mqueue.map((x) => ({ ...x, msg: { ...x.msg, id: 0 } })),
  inflight: s.inflight.map((e) => ({ ...e, delivery: { ...e.delivery, msg: { ...e.delivery.msg, id: 0 } } })),
});

test('a link of protocol 2 gets V8 serializer bytes, which the release before reads with v8.deserialize', () => {
  const bytes = encodeState(state, 2);
  const asOldReads = deserialize(bytes) as SessionState;
  assert.deepEqual(plain(asOldReads), plain(state));
  assert.deepEqual(plain(decodeState(bytes)), plain(unknown(state)));
  const rest = encodeDeliveries([d], 2);
  assert.deepEqual(plain(deserialize(rest) as Delivery[]), plain([d]));
  assert.deepEqual(plain(decodeDeliveries(rest)), plain([{ ...d, msg: { ...d.msg, origin: '' } }]));
});

test('a link of protocol 3 (and by default) gets the record encoding, not V8 bytes', () => {
  for (const bytes of [encodeState(state, 3), encodeState(state)]) {
    assert.notEqual(bytes[0], 0xff, 'not a V8 serializer header');
    assert.deepEqual(plain(decodeState(bytes)), plain(unknown(noIds(state))));
  }
  assert.deepEqual(plain(decodeDeliveries(encodeDeliveries([d], 3))), plain([{ ...d, msg: { ...d.msg, id: 0, origin: '' } }]));
});

test('with the sending node named, every message carries where it was published and its id there', () => {
  const relayed: Delivery = { ...d, msg: { ...d.msg, id: 40, origin: 'c@h', originId: 9 } };
  const fromOld: Delivery = { ...d, msg: { ...d.msg, id: 41, origin: '', originId: 0 } };
  const rest = decodeDeliveries(encodeDeliveries([d, relayed, fromOld], 4, 'a@h'));
  assert.deepEqual(
    rest.map((x) => [x.msg.origin, x.msg.originId]),
    [
      ['a@h', 7], // published on the sender: its own id there
      ['c@h', 9], // forwarded to it: the first node's
      ['', 0], // not known there either
    ],
  );
  const s = decodeState(encodeState(state, 4, 'a@h'));
  assert.deepEqual(
    [...s.inflight.map((e) => e.delivery.msg), ...s.mqueue.map((x) => x.msg)].map((m) => [m.origin, m.originId]),
    [
      ['a@h', 7],
      ['a@h', 7],
      ['a@h', 7],
    ],
  );
});

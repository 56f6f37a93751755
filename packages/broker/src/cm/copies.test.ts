import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../message.js';
import type { Delivery } from '../session/types.js';
import { Copies, exactId } from './copies.js';

const at = 1_700_000_000_000;
function msg(id: number, extra: Partial<Message> = {}): Message {
  return { id, topic: 't', payload: Buffer.from('same'), qos: 1, retain: false, properties: undefined, from: 'pub', timestamp: at, expiresAt: 0, ...extra };
}
const dl = (m: Message): Delivery => ({ msg: m, qos: 1, retain: false, subIds: undefined, share: undefined });

test('two identical publishes in one millisecond are two messages when their origin ids differ', () => {
  // the stand-in queue had one of them (published on node a, id 5), forwarded: origin set
  const copies = Copies.of('b@h', [dl(msg(0, { origin: 'a@h', originId: 5 }))]);
  // the direct copies reach b: the same two publishes, ids 5 and 6 on a
  assert.equal(copies.take(msg(90, { origin: 'a@h', originId: 6 })), false, 'the other publish is not a copy');
  assert.equal(copies.take(msg(91, { origin: 'a@h', originId: 5 })), true, 'the same publish is a copy');
  assert.equal(copies.size, 0);
});

test('a message published on this node matches its copy by this node’s id', () => {
  const copies = Copies.of('b@h', [dl(msg(0, { origin: 'b@h', originId: 7 }))]);
  assert.equal(copies.take(msg(8)), false, 'a second publish here, id 8');
  assert.equal(copies.take(msg(7)), true, 'the one the stand-in had, id 7 here');
  assert.equal(exactId(msg(7), 'b@h'), exactId(msg(0, { origin: 'b@h', originId: 7 }), 'x@h'));
});

test('a copy from a node that does not say where it was published falls back to the content match', () => {
  // from a release before protocol 4 (origin ''): matched by publisher, time, topic, payload
  const fromOld = Copies.of('b@h', [dl(msg(0, { origin: '' }))]);
  assert.equal(fromOld.take(msg(12, { origin: 'a@h', originId: 3 })), true);
  const toOld = Copies.of('b@h', [dl(msg(0, { origin: 'a@h', originId: 3 }))]);
  assert.equal(toOld.take(msg(12, { origin: '' })), true);
  // different content is never a copy, whatever the ids
  const other = Copies.of('b@h', [dl(msg(0, { origin: 'a@h', originId: 3 }))]);
  assert.equal(other.take(msg(13, { origin: 'a@h', originId: 3, payload: Buffer.from('else') })), false);
});

test('each copy is matched once', () => {
  const copies = Copies.of('b@h', [dl(msg(0, { origin: '' })), dl(msg(0, { origin: '' }))]);
  assert.equal(copies.take(msg(1, { origin: '' })), true);
  assert.equal(copies.take(msg(2, { origin: '' })), true);
  assert.equal(copies.take(msg(3, { origin: '' })), false);
});

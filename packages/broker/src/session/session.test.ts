import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeOutlet, message, newSession, recordingEvents } from '../testing/fakes.js';
import { Session } from './session.js';
import type { Delivery } from './types.js';

const d = (topic: string, qos: 0 | 1 | 2 = 1, extra: Partial<Delivery> = {}): Delivery => ({
  msg: message(topic, qos),
  qos,
  retain: false,
  subIds: undefined,
  share: undefined,
  ...extra,
});

test('connected: QoS 0 goes out at once; QoS 1 takes a packet id and waits in the inflight window', () => {
  const ev = recordingEvents();
  const s = newSession('c', {}, ev);
  const out = new FakeOutlet();
  s.attach(out, 0);
  s.deliver(d('a', 0));
  s.deliver(d('b', 1));
  assert.deepEqual(out.sent, [
    { topic: 'a', qos: 0, pid: 0, dup: false },
    { topic: 'b', qos: 1, pid: 1, dup: false },
  ]);
  assert.equal(s.inflight.size, 1);
  assert.deepEqual(ev.delivered, ['a', 'b']);
  assert.equal(s.puback(1), true);
  assert.equal(s.puback(1), false, 'a second PUBACK for the id is unknown');
  assert.equal(s.inflight.size, 0);
  assert.deepEqual(ev.acked, ['b']);
});

test('the window is the smaller of max_inflight and the client Receive Maximum; acks drain the queue in order', () => {
  const s = newSession('c', { maxInflight: 3 });
  const out = new FakeOutlet(2);
  s.attach(out, 0);
  for (const t of ['1', '2', '3', '4']) s.deliver(d(t));
  assert.deepEqual(
    out.sent.map((x) => x.topic),
    ['1', '2'],
  );
  assert.equal(s.mqueue.length, 2);
  s.puback(out.sent[0].pid);
  assert.deepEqual(
    out.sent.map((x) => x.topic),
    ['1', '2', '3'],
  );
  s.puback(out.sent[1].pid);
  s.puback(out.sent[2].pid);
  assert.deepEqual(
    out.sent.map((x) => x.topic),
    ['1', '2', '3', '4'],
  );
  assert.equal(s.mqueue.length, 0);
});

test('offline: messages queue up to max_mqueue_len, the oldest dropped as queue_full; QoS 0 kept only with mqueue_store_qos0', () => {
  const ev = recordingEvents();
  const s = newSession('c', { maxMqueueLen: 2 }, ev);
  s.deliver(d('1'));
  s.deliver(d('2'));
  s.deliver(d('3'));
  assert.deepEqual(
    s.mqueue.toArray().map((x) => x.msg.topic),
    ['2', '3'],
  );
  assert.deepEqual(ev.drops, [['1', 'queue_full']]);
  const ev2 = recordingEvents();
  const noQos0 = newSession('c2', { mqueueStoreQos0: false }, ev2);
  noQos0.deliver(d('q0', 0));
  assert.equal(noQos0.mqueue.length, 0);
  assert.deepEqual(ev2.drops, [['q0', 'no_connection']]);
});

test('a congested subscriber loses QoS 0 (qos0_msg); a message too large for the client is dropped (too_large)', () => {
  const ev = recordingEvents();
  const s = newSession('c', {}, ev);
  const out = new FakeOutlet();
  s.attach(out, 0);
  out.congestedNow = true;
  s.deliver(d('slow', 0));
  out.congestedNow = false;
  out.tooLarge = true;
  s.deliver(d('big', 1));
  assert.deepEqual(ev.drops, [
    ['slow', 'qos0_msg'],
    ['big', 'too_large'],
  ]);
  assert.equal(s.inflight.size, 0);
});

test('QoS 2 outbound: PUBREC moves to PUBREL, PUBCOMP ends it; a failed PUBREC ends it at once', () => {
  const s = newSession('c');
  const out = new FakeOutlet();
  s.attach(out, 0);
  s.deliver(d('q2', 2));
  const pid = out.sent[0].pid;
  assert.equal(s.pubcomp(pid), false, 'PUBCOMP before PUBREC is unknown');
  assert.equal(s.pubrec(pid, false), true);
  assert.deepEqual(out.pubrels, [pid]);
  assert.equal(s.inflight.get(pid)?.state, 'pubrel');
  assert.equal(s.pubcomp(pid), true);
  assert.equal(s.inflight.size, 0);
  s.deliver(d('q2b', 2));
  assert.equal(s.pubrec(out.sent[1].pid, true), true);
  assert.equal(s.inflight.size, 0);
});

test('reconnect: inflight messages are resent with DUP, up to the new Receive Maximum; the rest wait for acks', () => {
  const s = newSession('c', {}, recordingEvents(), 60);
  const first = new FakeOutlet();
  s.attach(first, 0);
  for (const t of ['1', '2', '3']) s.deliver(d(t));
  s.detach();
  const again = new FakeOutlet(2);
  s.attach(again, 0);
  assert.deepEqual(
    again.sent.map((x) => [x.topic, x.dup]),
    [
      ['1', true],
      ['2', true],
    ],
  );
  s.puback(again.sent[0].pid);
  assert.deepEqual(
    again.sent.map((x) => [x.topic, x.dup]),
    [
      ['1', true],
      ['2', true],
      ['3', true],
    ],
  );
});

test('takeShared hands back unacknowledged shared deliveries; pending lists what is undelivered', () => {
  const s = newSession('c');
  const out = new FakeOutlet(1);
  s.attach(out, 0);
  s.deliver(d('s1', 1, { share: 'g/t' }));
  s.deliver(d('p1', 1));
  s.deliver(d('s2', 1, { share: 'g/t' }));
  assert.deepEqual(
    s.pending().map((x) => x.msg.topic),
    ['s1', 'p1', 's2'],
  );
  assert.deepEqual(
    s.takeShared().map((x) => x.msg.topic),
    ['s1', 's2'],
  );
  assert.deepEqual(
    s.pending().map((x) => x.msg.topic),
    ['p1'],
  );
});

test('export/import keeps subscriptions, inflight, queue, awaiting-PUBREL ids and the next packet id', () => {
  const s = newSession('c', {}, recordingEvents(), 300);
  s.setSubscription('a/#', { qos: 1, nl: false, rap: false, rh: 0, subId: 0 });
  const out = new FakeOutlet(1);
  s.attach(out, 0);
  s.deliver(d('1'));
  s.deliver(d('2'));
  s.addAwaitingRel(9, 123);
  s.detach();
  const copy = Session.import(s.export(), { maxInflight: 32, maxMqueueLen: 1000, mqueueStoreQos0: true }, recordingEvents());
  assert.deepEqual([...copy.subscriptions.keys()], ['a/#']);
  assert.deepEqual([...copy.inflight.keys()], [1]);
  assert.deepEqual(
    copy.mqueue.toArray().map((x) => x.msg.topic),
    ['2'],
  );
  assert.deepEqual([...copy.awaitingRel], [[9, 123]]);
  const out2 = new FakeOutlet();
  copy.attach(out2, 0);
  assert.deepEqual(
    out2.sent.map((x) => [x.topic, x.pid, x.dup]),
    [
      ['1', 1, true],
      ['2', 2, false],
    ],
  );
});

test('dropExpired removes expired queued messages (expired), not the others', () => {
  const ev = recordingEvents();
  const s = newSession('c', {}, ev);
  const now = Date.now();
  s.deliver({ ...d('old'), msg: message('old', 1, { expiresAt: now - 1 }) });
  s.deliver(d('fresh'));
  assert.equal(s.dropExpired(now), 1);
  assert.deepEqual(
    s.mqueue.toArray().map((x) => x.msg.topic),
    ['fresh'],
  );
  assert.deepEqual(ev.drops, [['old', 'expired']]);
});

test('max_mqueue_bytes: the queue counts payload + topic bytes through every way in and out, and drops the oldest past it', () => {
  const ev = recordingEvents();
  const s = newSession('c', { maxMqueueBytes: 30 }, ev);
  const sized = (topic: string, bytes: number, extra: Partial<Delivery> = {}): Delivery => {
    const x = d(topic, 1, extra);
    return { ...x, msg: { ...x.msg, payload: Buffer.alloc(bytes) } };
  };
  s.deliver(sized('a', 9)); // 10 bytes
  s.deliver(sized('b', 9));
  s.deliver(sized('c', 9, { share: 'g/c' }));
  assert.equal(s.mqueue.bytes, 30);
  s.deliver(sized('d', 4)); // 5 more: the oldest goes
  assert.deepEqual(ev.drops, [['a', 'queue_full']]);
  assert.equal(s.mqueue.bytes, 25);
  s.deliver(sized('e', 40)); // larger than the budget: dropped itself, the queue stays
  assert.deepEqual(ev.drops.at(-1), ['e', 'queue_full']);
  assert.equal(s.mqueue.length, 3);
  assert.equal(s.takeShared().length, 1);
  assert.equal(s.mqueue.bytes, 15, 'a message taken for redispatch leaves the count');
  const out = new FakeOutlet();
  s.attach(out, 0);
  assert.equal(s.mqueue.length, 0);
  assert.equal(s.mqueue.bytes, 0, 'drained to the inflight window');
});

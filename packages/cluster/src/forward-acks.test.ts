import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ForwardAcks, type ForwardBody } from './forward-acks.js';
import type { WireMsg } from './wire.js';

const msg = (payload: string, qos: number): WireMsg => ({ topic: 't', payload: Buffer.from(payload), qos, retain: false, from: 'c', timestamp: 1, expires_at: 0 });

test('QoS 1/2 forwards are kept until acknowledged and sent again after a link reset; the receiver skips what it applied', () => {
  const sender = new ForwardAcks();
  const receiver = new ForwardAcks();
  const frames: ForwardBody[] = [{ msgs: [msg('a', 1), msg('zero', 0)] }, { msgs: [msg('zero', 0)] }, { msgs: [msg('b', 2)] }, { msgs: [msg('c', 1)] }];
  for (const f of frames) sender.sent('r', f);
  assert.equal(frames[1]!.seq, undefined, 'a frame with only QoS 0 is not numbered');
  // the receiver applied the first two numbered frames, but its acknowledgement was lost
  assert.ok(receiver.accept('s', frames[0]!));
  assert.ok(receiver.accept('s', frames[1]!));
  assert.ok(receiver.accept('s', frames[2]!));
  receiver.takeAcks();
  const again = sender.resend('r');
  assert.equal(again.msgs, 3);
  const applied = again.frames.filter((f) => receiver.accept('s', f.forward!)).flatMap((f) => f.forward!.msgs.map((m) => m.payload.toString()));
  assert.deepEqual(applied, ['c'], 'only what the receiver never applied, and no QoS 0');
  const [[origin, ack]] = receiver.takeAcks() as [[string, { epoch: number; seq: number }]];
  assert.equal(origin, 's');
  sender.acked('r', ack.epoch, ack.seq);
  assert.equal(sender.resend('r').msgs, 0, 'everything acknowledged');
});

test('a restarted sender (new epoch) starts numbering again and is not mistaken for a duplicate', () => {
  const receiver = new ForwardAcks();
  const first = new ForwardAcks();
  const f1: ForwardBody = { msgs: [msg('a', 1)] };
  first.sent('r', f1);
  first.sent('r', { msgs: [msg('b', 1)] });
  assert.ok(receiver.accept('s', f1));
  const restarted = new ForwardAcks();
  const f2: ForwardBody = { msgs: [msg('c', 1)] };
  restarted.sent('r', f2);
  assert.equal(f2.seq, 1);
  assert.ok(receiver.accept('s', f2));
});

test('the buffer for one node is bounded: the oldest go first, and are counted', () => {
  const sender = new ForwardAcks();
  for (let i = 0; i < 10_005; i++) sender.sent('r', { msgs: [msg(String(i), 1)] });
  const again = sender.resend('r');
  assert.equal(again.msgs, 10_000);
  assert.equal(again.dropped, 5);
  assert.equal(again.frames[0]!.forward!.msgs[0]!.payload.toString(), '5');
});

test('held frames (a congested stream) are numbered and kept unsent, released in order as the stream takes them, or all resent after a reset', () => {
  const sender = new ForwardAcks();
  sender.sent('r', { msgs: [msg('a', 1)] });
  assert.equal(sender.holding('r'), false);
  sender.sent('r', { msgs: [msg('b', 1), msg('zero', 0)] }, true);
  sender.sent('r', { msgs: [msg('c', 2)] }, true);
  sender.sent('r', { msgs: [msg('d', 1)] }, true);
  assert.equal(sender.holding('r'), true);
  const written: string[] = [];
  // the stream takes one frame, then is congested again
  sender.releaseHeld('r', (f) => (written.push(...f.forward!.msgs.map((m) => m.payload.toString())), false));
  assert.deepEqual(written, ['b'], 'the oldest held frame first, its QoS 0 message not kept');
  assert.equal(sender.holding('r'), true);
  sender.releaseHeld('r', (f) => (written.push(...f.forward!.msgs.map((m) => m.payload.toString())), true));
  assert.deepEqual(written, ['b', 'c', 'd']);
  assert.equal(sender.holding('r'), false);
  // released frames stay kept until acknowledged, like sent ones
  assert.deepEqual(
    sender.resend('r').frames.map((f) => f.forward!.seq),
    [1, 2, 3, 4],
  );
  sender.sent('r', { msgs: [msg('e', 1)] }, true);
  const again = sender.resend('r');
  assert.equal(again.frames.length, 5, 'a link reset sends held frames too');
  assert.equal(sender.holding('r'), false, 'and they are no longer held');
});

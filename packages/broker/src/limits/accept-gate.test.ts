import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { AcceptGate } from './accept-gate.js';
import { until } from '../testing/wait.js';

function fakeSocket() {
  return {
    paused: false,
    destroyed: false,
    pause() {
      this.paused = true;
    },
    resume() {
      this.paused = false;
    },
    destroy() {
      this.destroyed = true;
    },
  };
}

test('accept gate: past the rate connections wait paused, go in arrival order, one that left takes no turn', async () => {
  // 2 at once, then one every 20 ms
  const gate = new AcceptGate({ amount: 2, intervalMs: 40 }, null);
  const order: number[] = [];
  const socks = Array.from({ length: 6 }, fakeSocket);
  const now = socks.map((s, i) => gate.admit(s as unknown as Duplex, () => order.push(i)));
  assert.deepEqual(now, [true, true, false, false, false, false]);
  assert.equal(gate.waiting, 4);
  assert.equal(gate.delayed, 4);
  assert.ok(socks[2].paused && socks[5].paused, 'waiting connections are not read');
  socks[3].destroy();
  await until(() => gate.waiting === 0, 'the waiting connections handed on');
  assert.deepEqual(order, [2, 4, 5], 'in order; the one that closed while waiting skipped');
  assert.ok(!socks[2].paused && !socks[5].paused, 'read once handed on');
  assert.equal(gate.waiting, 0);
  gate.close();
});

test('accept gate: closing the listener closes the connections still waiting', () => {
  const gate = new AcceptGate({ amount: 1, intervalMs: 60_000 }, null);
  const a = fakeSocket();
  const b = fakeSocket();
  assert.equal(
    gate.admit(a as unknown as Duplex, () => {}),
    true,
  );
  assert.equal(
    gate.admit(b as unknown as Duplex, () => assert.fail('not handed on')),
    false,
  );
  gate.close();
  assert.equal(b.destroyed, true);
  assert.equal(gate.waiting, 0);
});

test('accept gate: one episode is reported when connections start waiting and one when they stop, not one per connection', async () => {
  const events: [string, number][] = [];
  const gate = new AcceptGate({ amount: 1, intervalMs: 20 }, null, (e, n) => events.push([e, n]));
  const socks = Array.from({ length: 5 }, fakeSocket);
  const handed: number[] = [];
  socks.forEach((s, i) => gate.admit(s as unknown as Duplex, () => handed.push(i)));
  assert.deepEqual(events, [['start', 1]], 'the first connection that waits starts the episode');
  await until(() => handed.length === 4, 'the waiting ones handed on');
  assert.deepEqual(events, [['start', 1]], 'no end while it may go on (EPISODE_QUIET_MS)');
  await until(() => events.length === 2, 'the episode ends after a quiet second', 3000);
  assert.deepEqual(events[1], ['end', 4], 'the end counts the connections that waited');
  gate.close();
});

test('accept gate: a new rate set while connections wait re-times them; none (infinity) hands them all on at once', () => {
  const gate = new AcceptGate({ amount: 1, intervalMs: 60_000 }, null);
  const socks = Array.from({ length: 3 }, fakeSocket);
  const handed: number[] = [];
  socks.forEach((s, i) => gate.admit(s as unknown as Duplex, () => handed.push(i)));
  assert.deepEqual(handed, [], 'the first is let through by admit itself, the rest wait a minute');
  assert.equal(gate.waiting, 2);
  gate.setRate(null, null);
  assert.deepEqual(handed, [1, 2], 'handed on at once, in order');
  assert.equal(gate.waiting, 0);
  assert.equal(
    gate.admit(fakeSocket() as unknown as Duplex, () => {}),
    true,
    'without a rate every connection goes straight through',
  );
  gate.setRate({ amount: 1, intervalMs: 60_000 }, null);
  assert.equal(
    gate.admit(fakeSocket() as unknown as Duplex, () => {}),
    true,
    'a fresh, full bucket',
  );
  assert.equal(
    gate.admit(fakeSocket() as unknown as Duplex, () => {}),
    false,
  );
  gate.close();
});

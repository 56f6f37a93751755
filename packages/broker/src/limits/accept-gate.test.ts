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

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EMPTY_WINDOW, InflightWindow } from './inflight.js';
import type { InflightEntry } from './types.js';

const entry = (pid: number): InflightEntry => ({ pid, delivery: { msg: {} as never, qos: 1, retain: false, subIds: undefined, share: undefined }, state: 'publish', sentAt: pid });

/** Compares the window with a Map after every step: lookups, size, insertion order. */
function same(w: InflightWindow, m: Map<number, InflightEntry>, probe: number[]): void {
  assert.equal(w.size, m.size);
  assert.deepEqual([...w.keys()], [...m.keys()], 'insertion order');
  assert.deepEqual(
    [...w].map(([k]) => k),
    [...m.keys()],
  );
  for (const pid of probe) {
    assert.equal(w.get(pid), m.get(pid), `get ${pid}`);
    assert.equal(w.has(pid), m.has(pid));
  }
}

test('the inflight window behaves as a Map of packet ids: random adds and removals, colliding ids, wrap-around, growth', () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (const window of [1, 4, 32, 300]) {
    const w = new InflightWindow();
    const m = new Map<number, InflightEntry>();
    let next = 65500; // wraps past 65535 to 1
    const probe = new Set<number>();
    for (let step = 0; step < 5000; step++) {
      if (m.size < window && rand(3) !== 0) {
        // ids that collide in a small table too: steps of 8 and 64 sometimes
        let pid = rand(4) === 0 ? ((next + 64 * rand(4)) % 65535) + 1 : next;
        while (m.has(pid)) pid = (pid % 65535) + 1;
        next = (pid % 65535) + 1;
        const e = entry(pid);
        w.set(pid, e);
        m.set(pid, e);
        probe.add(pid);
      } else if (m.size > 0) {
        // mostly the oldest (acks in order), sometimes any, sometimes one that is not there
        const keys = [...m.keys()];
        const pid = rand(4) === 0 ? keys[rand(keys.length)]! : rand(8) === 0 ? 70000 + step : keys[0]!;
        assert.equal(w.delete(pid), m.delete(pid));
      }
      if (step % 50 === 0) same(w, m, [...probe].slice(-64));
    }
    same(w, m, [...probe]);
  }
});

test('removing entries while iterating, as the session does when shared messages are taken back', () => {
  const w = new InflightWindow();
  for (let pid = 1; pid <= 20; pid++) w.set(pid, entry(pid));
  const seen: number[] = [];
  for (const [pid] of w) {
    seen.push(pid);
    if (pid % 2 === 0) w.delete(pid);
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 20 }, (_, i) => i + 1),
    'every entry visited once',
  );
  assert.deepEqual([...w.keys()], [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
});

test('replacing an entry keeps its place; from() keeps the given order; the shared empty window refuses writes', () => {
  const w = InflightWindow.from([entry(5), entry(3), entry(9)]);
  assert.deepEqual([...w.keys()], [5, 3, 9]);
  const again = entry(3);
  w.set(3, again);
  assert.equal(w.get(3), again);
  assert.deepEqual([...w.keys()], [5, 3, 9]);
  assert.equal(EMPTY_WINDOW.size, 0);
  assert.throws(() => EMPTY_WINDOW.set(1, entry(1)), /shared empty inflight window/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRate, parseRate } from './rate.js';
import { TokenBucket } from './token-bucket.js';

test('parseRate reads EMQX rate values', () => {
  assert.deepEqual(parseRate('1000/s'), { amount: 1000, intervalMs: 1000 });
  assert.deepEqual(parseRate('10000/60m'), { amount: 10000, intervalMs: 3_600_000 });
  assert.deepEqual(parseRate('500/10s'), { amount: 500, intervalMs: 10_000 });
  assert.deepEqual(parseRate(' 20 / h '), { amount: 20, intervalMs: 3_600_000 });
  assert.deepEqual(parseRate('1MB/s', true), { amount: 1024 * 1024, intervalMs: 1000 });
  assert.deepEqual(parseRate('64KB/500ms', true), { amount: 64 * 1024, intervalMs: 500 });
  assert.deepEqual(parseRate('100/1d', true), { amount: 100, intervalMs: 86_400_000 });
  assert.equal(parseRate('infinity'), null);
  assert.equal(parseRate('Infinity', true), null);
  for (const bad of ['1000', '/s', '1000/', '1000/x', '0/s', '1000/0s', '-5/s', 'fast', '1MB/s', '1000 per s']) {
    assert.equal(parseRate(bad), undefined, bad);
  }
  assert.equal(parseRate('1XB/s', true), undefined);
});

test('formatRate writes rates back as EMQX spells them', () => {
  assert.equal(formatRate(parseRate('1000/s')), '1000/s');
  assert.equal(formatRate(parseRate('10000/60m')), '10000/h');
  assert.equal(formatRate(parseRate('500/10s')), '500/10s');
  assert.equal(formatRate(null), 'infinity');
});

test('token bucket: the rate holds after the bucket is spent, and waits say how long', () => {
  let now = 0;
  const b = new TokenBucket({ amount: 10, intervalMs: 1000 }, null, now);
  // a full bucket: 10 at once
  for (let i = 0; i < 10; i++) assert.equal(b.tryTake(1, now), 0, `take ${i}`);
  const w = b.tryTake(1, now);
  assert.equal(w, 100, 'one token every 100 ms');
  now += 50;
  assert.ok(b.tryTake(1, now) > 0, 'not yet after 50 ms');
  now += 50;
  assert.equal(b.tryTake(1, now), 0, 'after 100 ms');
  // over 10 s at most 10 + 100 tokens go
  let taken = 0;
  for (let t = 0; t < 10_000; t += 7) {
    now += 7;
    while (b.tryTake(1, now) === 0) taken++;
  }
  assert.ok(taken >= 98 && taken <= 101, `taken ${taken}`);
});

test('token bucket: the burst is drawn on only when the rate is spent, and refills at its own rate', () => {
  let now = 0;
  const b = new TokenBucket({ amount: 10, intervalMs: 1000 }, { amount: 5, intervalMs: 10_000 }, now);
  let n = 0;
  while (b.tryTake(1, now) === 0) n++;
  assert.equal(n, 15, 'the rate\u2019s 10 and the burst\u2019s 5');
  // one second later: the rate refilled (10) and the burst half a token
  now += 1000;
  n = 0;
  while (b.tryTake(1, now) === 0) n++;
  assert.equal(n, 10);
});

test('token bucket: a cost over the capacity passes on a full bucket and is paid back', () => {
  let now = 0;
  const b = new TokenBucket({ amount: 100, intervalMs: 1000 }, null, now);
  assert.equal(b.tryTake(1000, now), 0, 'a full bucket lets a large packet through');
  // 900 in debt plus 100 needed again: 10 s
  const w = b.tryTake(1000, now);
  assert.equal(w, 10_000);
  now += 9_000;
  assert.ok(b.tryTake(1000, now) > 0);
  now += 1_000;
  assert.equal(b.tryTake(1000, now), 0);
});

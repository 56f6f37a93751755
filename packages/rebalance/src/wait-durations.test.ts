import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitSeconds, waitsInSeconds } from './wait-durations.js';

test('waits: seconds, or duration strings as EMQX takes them', () => {
  assert.equal(waitSeconds(12), 12);
  assert.equal(waitSeconds(0), 0);
  assert.equal(waitSeconds('10s'), 10);
  assert.equal(waitSeconds(' 1M30s '), 90);
  assert.equal(waitSeconds('500ms'), 0.5);
  assert.equal(waitSeconds('1h'), 3600);
  assert.equal(waitSeconds('1.5s'), 1.5);
  for (const bad of ['', '10', 'soon', '10 s', '-1s', '1y', -1, Number.NaN, null]) assert.equal(waitSeconds(bad), undefined, JSON.stringify(bad));
});

test('waits: a start body gets its waits in seconds; other fields untouched; a clear error naming the field', () => {
  assert.deepEqual(waitsInSeconds({ wait_health_check: '1m', wait_takeover: 5, conn_evict_rate: 10 }), { wait_health_check: 60, wait_takeover: 5, conn_evict_rate: 10 });
  const same = { conn_evict_rate: 1 };
  assert.equal(waitsInSeconds(same), same, 'a body without string waits is passed on as it is');
  assert.throws(() => waitsInSeconds({ wait_takeover: 'soon' }), /wait_takeover: "soon" is neither seconds nor a duration/);
  assert.throws(() => waitsInSeconds({ wait_health_check: '25h' }), /wait_health_check: "25h" is longer than a day/);
});

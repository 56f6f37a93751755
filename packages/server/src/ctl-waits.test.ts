import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rebalanceStartBody, waitFlag } from './ctl-rebalance-start.js';

const usage = (m: string) => new Error(m);

test('ctl wait flags take seconds or a duration string, as the API does', () => {
  assert.equal(waitFlag('10', 'wait-takeover', usage), 10, 'a bare number is seconds');
  assert.equal(waitFlag('2.5', 'wait-takeover', usage), 2.5);
  assert.equal(waitFlag('10s', 'wait-takeover', usage), 10);
  assert.equal(waitFlag('1m30s', 'wait-takeover', usage), 90);
  assert.equal(waitFlag('500ms', 'wait-takeover', usage), 0.5);
  assert.equal(waitFlag(' 1M ', 'wait-takeover', usage), 60);
  assert.equal(waitFlag(undefined, 'wait-takeover', usage), undefined);
  assert.deepEqual(rebalanceStartBody({ 'wait-health-check': '1m', 'wait-takeover': '45' }, usage), { wait_health_check: 60, wait_takeover: 45 });
});

test('a wait flag that is neither seconds nor a duration, or longer than a day, is a usage error naming the flag', () => {
  assert.throws(() => waitFlag('soon', 'wait-health-check', usage), /--wait-health-check: seconds or a duration such as "10s" or "1m30s" expected, got "soon"/);
  assert.throws(() => waitFlag('-1', 'wait-health-check', usage), /--wait-health-check: seconds or a duration/);
  assert.throws(() => waitFlag('10x', 'wait-takeover', usage), /--wait-takeover/);
  assert.throws(() => waitFlag('', 'wait-takeover', usage), /--wait-takeover/);
  assert.throws(() => waitFlag('2d', 'wait-takeover', usage), /--wait-takeover: "2d" is longer than a day/);
});

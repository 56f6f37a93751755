import assert from 'node:assert/strict';
import { test } from 'node:test';
import { warmUp } from './warm-up.js';

test('warm-up: synthetic QoS 0/1/2 traffic of both protocol versions through a throwaway node, bounded by count and time', async () => {
  const r = await warmUp(2000, 30_000);
  assert.ok(r.delivered >= 2000, `every burst delivered: ${r.delivered}`);
  // a budget that is already spent ends it after the first burst
  const short = await warmUp(1_000_000, 0);
  assert.ok(short.delivered <= 400, `stopped by the time budget: ${short.delivered}`);
  // it leaves nothing behind that would keep the process alive (node:test waits for the event loop)
});

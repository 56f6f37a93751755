/** flapping_detect's counting per client id and window. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlappingDetector } from './flapping.js';

test('flapping: more than max_count CONNECTs within window_time is flapping; the window then starts again', () => {
  const f = new FlappingDetector({ maxCount: 3, windowMs: 1000, banMs: 5000 });
  const at = (t: number, id = 'c') => f.connect(id, t);
  assert.deepEqual([at(0), at(100), at(200)], [false, false, false]);
  assert.equal(at(300, 'other'), false, 'counted per client id');
  assert.equal(at(900), true, 'the 4th within the window');
  // counting starts again (after the ban)
  assert.deepEqual([at(6000), at(6100), at(6200)], [false, false, false]);
  // a new window once the old one ended
  assert.equal(at(7000), false);
  f.purge(20_000);
  assert.equal(f.size, 0, 'ended windows are forgotten');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { LogThrottle } from './log-throttle.js';

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

test('log throttle: the first event per key is logged at once, the rest of the window as one line with the count', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { logger, lines } = capture();
  const log = new LogThrottle(logger, 60_000);
  for (let i = 1; i <= 1000; i++) log.event('warn', 'queue_full a', { clientid: 'a', topic: `t/${i}` }, 'Dropped msg due to mqueue is full');
  log.event('warn', 'queue_full b', { clientid: 'b', topic: 'x' }, 'Dropped msg due to mqueue is full');
  assert.equal(lines.length, 2, 'one line per client so far');
  assert.deepEqual(
    lines.map((l) => [l.clientid, l.topic, l.level]),
    [
      ['a', 't/1', 40],
      ['b', 'x', 40],
    ],
  );
  t.mock.timers.tick(60_000);
  assert.equal(lines.length, 3, 'the window ended: one more line, for the client with throttled events');
  assert.equal(lines[2].clientid, 'a');
  assert.equal(lines[2].throttled, 999);
  assert.equal(lines[2].time_window_s, 60);
  assert.equal(lines[2].topic, 't/1000', 'the fields of the latest event');
  assert.match(String(lines[2].msg), /^Dropped msg due to mqueue is full \(999 more in the last 60 s\)$/);

  // a steady stream stays at one line per window; a quiet client is logged at once again
  log.event('warn', 'queue_full a', { clientid: 'a', topic: 't/1001' }, 'Dropped msg due to mqueue is full');
  log.event('warn', 'queue_full b', { clientid: 'b', topic: 'y' }, 'Dropped msg due to mqueue is full');
  assert.equal(lines.length, 4, 'a was throttled in the last window: counted; b was quiet: logged');
  assert.equal(lines[3].clientid, 'b');
  t.mock.timers.tick(60_000);
  assert.deepEqual(
    lines.slice(4).map((l) => [l.clientid, l.throttled]),
    [['a', 1]],
    'b had no event after the one logged: no line',
  );
  t.mock.timers.tick(60_000);
  t.mock.timers.tick(60_000);
  assert.equal(lines.length, 5, 'nothing new, nothing logged');
  log.event('warn', 'queue_full a', { clientid: 'a', topic: 't/1002' }, 'Dropped msg due to mqueue is full');
  log.event('info', 'acl_denied a', { clientid: 'a' }, 'Publish denied by authorization');
  assert.equal(lines.length, 7, 'after a quiet window a key is logged at once again; another event of the client has its own key');
  assert.deepEqual(
    lines.slice(5).map((l) => [l.topic, l.level]),
    [
      ['t/1002', 40],
      [undefined, 30],
    ],
  );
  log.close();
});

test('log throttle: close writes what was counted', () => {
  const { logger, lines } = capture();
  const log = new LogThrottle(logger, 60_000);
  for (let i = 0; i < 5; i++) log.event('warn', 'k', { clientid: 'c' }, 'Dropped');
  log.close();
  assert.deepEqual(
    lines.map((l) => l.throttled),
    [undefined, 4],
  );
});

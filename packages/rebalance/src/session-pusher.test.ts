import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Broker } from '@vireo/broker';
import { pushSessions } from './session-pusher.js';

/** A broker of `n` offline persistent sessions whose cluster takes each push after `ms`. */
function fakeBroker(n: number, ms = 1) {
  const sessions = new Map(Array.from({ length: n }, (_, i) => [`s${i}`, { clientId: `s${i}`, expiryInterval: 600 }]));
  let reads = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const pushed = new Map<string, string>();
  const broker = {
    logger: pino({ level: 'silent' }),
    allSessions: () => {
      reads++;
      return sessions.values();
    },
    session: (id: string) => sessions.get(id),
    cluster: {
      node: 'self',
      nodes: () => ['a', 'b', 'self'],
      sessionCounts: () => ({ a: 0, b: 0 }),
      pushSession: (id: string, node: string) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return new Promise<boolean>((resolve) =>
          setTimeout(() => {
            inFlight--;
            sessions.delete(id);
            pushed.set(id, node);
            resolve(true);
          }, ms),
        );
      },
    },
  } as unknown as Pick<Broker, 'allSessions' | 'session' | 'cluster' | 'logger'>;
  return { broker, sessions, pushed, reads: () => reads, maxInFlight: () => maxInFlight };
}

test('every session is pushed, spread over the nodes; the session list is read once per pass, not once per push', async () => {
  const f = fakeBroker(2000);
  const r = await pushSessions(f.broker, { rate: 1_000_000 });
  assert.deepEqual(r, { pushed: 2000, failed: 0 });
  assert.equal(f.sessions.size, 0);
  const perNode = [...f.pushed.values()].reduce<Record<string, number>>((m, n) => ((m[n] = (m[n] ?? 0) + 1), m), {});
  assert.deepEqual(perNode, { a: 1000, b: 1000 });
  // a pass over the list, then a few more while the last pushes finish: far fewer than 2000
  assert.ok(f.reads() <= 300, `read the session list ${f.reads()} times`);
  assert.ok(f.maxInFlight() > 1 && f.maxInFlight() <= 256, `at most the window in flight (${f.maxInFlight()})`);
});

test('a session gone since the list was read is skipped, not counted as a failed push', async () => {
  const f = fakeBroker(300, 5);
  const r = await pushSessions(f.broker, {
    rate: 1_000_000,
    // the list still names s299 after its client took it over elsewhere
    sessions: () => [...f.sessions.keys(), 'gone'],
  });
  assert.deepEqual(r, { pushed: 300, failed: 0 });
  assert.equal(f.pushed.has('gone'), false);
});

test('the rate holds: 50 sessions at 100/s take about half a second', async () => {
  const f = fakeBroker(50);
  const t0 = Date.now();
  const r = await pushSessions(f.broker, { rate: 100 });
  const ms = Date.now() - t0;
  assert.equal(r.pushed, 50);
  assert.ok(ms >= 400, `took ${ms} ms`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TakeoverBarrier } from './takeover-barrier.js';
import type { Frame } from './wire.js';

test("takeover barrier: the stand-in ends once every other node's marker is in (early ones count), or after the timeout", async () => {
  const sent: [string, Frame][] = [];
  const mk = (node: string, peers: string[]) => new TakeoverBarrier({ node, send: (n, f) => sent.push([n, f]), peers: () => peers, timeoutMs: 100 });
  // new node b asks x and y (not the old node c) to flush towards c
  mk('b', ['c', 'x', 'y']).request('c', 'dev');
  assert.deepEqual(sent, [
    ['x', { takeover_barrier: { clientid: 'dev', old_node: 'c' } }],
    ['y', { takeover_barrier: { clientid: 'dev', old_node: 'c' } }],
  ]);
  sent.length = 0;
  mk('x', ['b', 'c', 'y']).onBarrier({ clientid: 'dev', old_node: 'c' });
  assert.deepEqual(sent, [['c', { takeover_barrier_done: { clientid: 'dev' } }]]);

  const old = mk('c', ['b', 'x', 'y']);
  let ended = 0;
  old.onDone('y', { clientid: 'dev' }); // before b's takeover_end
  old.await('b', 'dev', () => ended++);
  assert.equal(ended, 0, "x's marker is missing");
  old.onDone('x', { clientid: 'dev' });
  assert.equal(ended, 1);
  old.onDone('x', { clientid: 'dev' });
  assert.equal(ended, 1, 'once');

  let late = 0;
  old.await('b', 'other', () => late++);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(late, 1, 'a node that sends no marker holds it up only until the timeout');
  let alone = 0;
  mk('c', ['b']).await('b', 'dev', () => alone++);
  assert.equal(alone, 1, 'no third node: at once');
});

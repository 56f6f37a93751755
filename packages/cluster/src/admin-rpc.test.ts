import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { AdminCallError } from '@vireo/broker';
import { AdminRpc } from './admin-rpc.js';
import type { Frame } from './wire.js';

/** Two nodes whose frames cross as the streams carry them (after a tick); `cut` drops a's frames to b. */
function pair(timeoutMs = 200) {
  const state = { cut: false, upB: true };
  const logger = pino({ level: 'silent' });
  const nodes: Record<string, AdminRpc> = {};
  const deliver = (from: string, to: string, f: Frame) =>
    setImmediate(() => {
      const rpc = nodes[to]!;
      if (f.admin_request) rpc.onRequest(from, f.admin_request);
      if (f.admin_reply) rpc.onReply(from, f.admin_reply);
    });
  nodes.a = new AdminRpc({ self: 'a', logger, timeoutMs, isUp: (n) => n === 'b' && state.upB, send: (to, f) => !state.cut && deliver('a', to, f) });
  nodes.b = new AdminRpc({ self: 'b', logger, timeoutMs, isUp: (n) => n === 'a', send: (to, f) => deliver('b', to, f) });
  return { a: nodes.a, b: nodes.b, state };
}

test("a call runs the op on the peer and brings back its JSON answer; the peer's failure comes back as the error", async () => {
  const { a, b } = pair();
  b.serve(async (op, args) => {
    if (op === 'boom') throw new Error('no such thing');
    return { op, args, from: 'b' };
  });
  a.serve(async () => 'mine');
  assert.deepEqual(await a.call('b', 'echo', { n: 1, s: 'x' }), { op: 'echo', args: { n: 1, s: 'x' }, from: 'b' });
  assert.equal(await a.call('a', 'anything', null), 'mine');
  await assert.rejects(a.call('b', 'boom', null), (e: unknown) => e instanceof AdminCallError && e.reason === 'failed' && /no such thing/.test(e.message));
});

test('no answer: the call fails at its timeout; a link that drops fails its calls at once; a node not running is refused', async () => {
  const { a, b, state } = pair(150);
  b.serve(async () => 'late');
  state.cut = true;
  const t0 = Date.now();
  await assert.rejects(a.call('b', 'x', null), (e: unknown) => e instanceof AdminCallError && e.reason === 'timeout');
  const waited = Date.now() - t0;
  assert.ok(waited >= 140 && waited < 1000, `timed out after ${waited} ms`);

  const pending = a.call('b', 'x', null);
  a.nodeDown('b', 'heartbeat timeout');
  await assert.rejects(pending, (e: unknown) => e instanceof AdminCallError && e.reason === 'not_running' && /heartbeat timeout/.test(e.message));

  state.upB = false;
  await assert.rejects(a.call('b', 'x', null), (e: unknown) => e instanceof AdminCallError && e.reason === 'not_running');
  a.close();
  b.close();
});

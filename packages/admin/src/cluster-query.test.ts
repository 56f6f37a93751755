import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminCallError, type Broker } from '@vireo/broker';
import { ClusterQuery, slice, type SliceArgs } from './cluster-query.js';

/** Three nodes whose `items.page` op serves `items[node]`; `down` nodes fail as a timed-out peer would. */
function cluster(items: Record<string, string[]>, down: string[] = []) {
  const calls: string[] = [];
  const answer = (node: string, op: string, args: unknown) => {
    calls.push(`${node} ${op} ${JSON.stringify(args)}`);
    if (down.includes(node)) throw new AdminCallError(node, 'timeout', `node ${node} did not answer within 1000 ms`);
    if (op === 'items.page') return slice(items[node] ?? [], args as SliceArgs<unknown>, () => true);
    if (op === 'has') return (items[node] ?? []).includes((args as { id: string }).id) ? node : null;
    throw new Error(`unknown op ${op}`);
  };
  const broker = {
    options: { nodeName: 'a' },
    cluster: { nodes: () => Object.keys(items).sort(), callNode: async (node: string, op: string, args: unknown) => answer(node, op, args) },
  } as unknown as Broker;
  const q = new ClusterQuery(broker, async (op, args) => answer('a', op, args));
  return { q, calls };
}

test('pages run through the nodes in order; a later page asks only the nodes it covers, for their slice', async () => {
  const { q, calls } = cluster({ a: ['a1', 'a2', 'a3'], b: [], c: ['c1', 'c2', 'c3', 'c4'] });
  const pages = [];
  for (let page = 1; page <= 4; page++) pages.push(await q.page<string, object>('items.page', {}, { page, limit: 2 }));
  assert.deepEqual(
    pages.map((p) => p.data),
    [['a1', 'a2'], ['a3', 'c1'], ['c2', 'c3'], ['c4']],
  );
  assert.deepEqual(
    pages.map((p) => p.meta.hasnext),
    [true, true, true, false],
  );
  assert.ok(pages.every((p) => p.meta.count === 7 && p.meta.errors === undefined));
  // page 2: counts from everyone, then a's third item and c's first
  calls.length = 0;
  await q.page('items.page', {}, { page: 2, limit: 2 });
  assert.deepEqual(
    calls.filter((c) => c.includes('"limit":1')),
    ['a items.page {"filters":{},"offset":2,"limit":1}', 'c items.page {"filters":{},"offset":0,"limit":1}'],
  );
  // a large limit: counts first even on page 1, then each node's slice
  calls.length = 0;
  assert.deepEqual((await q.page('items.page', {}, { page: 1, limit: 5000 })).data, ['a1', 'a2', 'a3', 'c1', 'c2', 'c3', 'c4']);
  assert.deepEqual(
    calls.filter((c) => !c.includes('"limit":0')),
    ['a items.page {"filters":{},"offset":0,"limit":3}', 'c items.page {"filters":{},"offset":0,"limit":4}'],
  );
  const beyond = await q.page('items.page', {}, { page: 9, limit: 2 });
  assert.deepEqual(beyond.data, []);
  assert.equal(beyond.meta.hasnext, false);
});

test('a node that does not answer is left out and named; the others still make the page', async () => {
  const { q } = cluster({ a: ['a1'], b: ['b1', 'b2'], c: ['c1'] }, ['b']);
  const p = await q.page<string, object>('items.page', {}, { page: 1, limit: 10 });
  assert.deepEqual(p.data, ['a1', 'c1']);
  assert.equal(p.meta.count, 2);
  assert.deepEqual(p.meta.errors, [{ node: 'b', reason: 'timeout', message: 'node b did not answer within 1000 ms' }]);
  const g = await q.gather<unknown>('nope', null);
  assert.deepEqual(g.parts, []);
  assert.deepEqual(
    g.errors.map((e) => `${e.node}:${e.reason}`),
    ['a:failed', 'b:timeout', 'c:failed'],
  );
});

test('find asks this node first and the others only when it has nothing', async () => {
  const { q, calls } = cluster({ a: ['x'], b: ['y'], c: [] }, ['c']);
  assert.deepEqual(await q.find('has', { id: 'x' }), { node: 'a', value: 'a' });
  assert.deepEqual(calls, ['a has {"id":"x"}']);
  assert.deepEqual(await q.find('has', { id: 'y' }), { node: 'b', value: 'b' });
  const none = await q.find('has', { id: 'z' });
  assert.equal(none.node, undefined);
  assert.deepEqual('errors' in none ? none.errors.map((e) => e.node) : [], ['c']);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subOpts } from '../testing/fakes.js';
import { SharedGroup } from './shared-group.js';

function group(...ids: string[]): SharedGroup {
  const g = new SharedGroup('g', 't/#');
  for (const id of ids) g.add(id, subOpts(1, { share: 'g' }));
  return g;
}
const all = () => true;

test('round_robin: each publisher walks the members with its own counter', () => {
  const g = group('a', 'b', 'c');
  const rr = { value: 0 };
  assert.deepEqual(
    [1, 2, 3, 4].map(() => g.pick('round_robin', rr, 'p', 't/1', all)),
    ['a', 'b', 'c', 'a'],
  );
  assert.equal(g.pick('round_robin', { value: 0 }, 'q', 't/1', all), 'a', 'another publisher starts at the first member');
});

test('round_robin_per_group: one counter for the group, whatever the publisher', () => {
  const g = group('a', 'b');
  assert.deepEqual(
    ['p', 'q', 'r'].map((p) => g.pick('round_robin_per_group', { value: 0 }, p, 't', all)),
    ['a', 'b', 'a'],
  );
});

test('members that are not usable are skipped; none usable gives undefined', () => {
  const g = group('a', 'b', 'c');
  assert.equal(
    g.pick('round_robin', { value: 0 }, 'p', 't', (id) => id !== 'a'),
    'b',
  );
  assert.equal(
    g.pick('random', { value: 0 }, 'p', 't', () => false),
    undefined,
  );
});

test('sticky keeps its member while usable; hash_clientid and hash_topic are stable', () => {
  const g = group('a', 'b', 'c', 'd');
  const first = g.pick('sticky', { value: 0 }, 'p', 't', all);
  for (let i = 0; i < 5; i++) assert.equal(g.pick('sticky', { value: 0 }, 'p', 't', all), first);
  const other = g.pick('sticky', { value: 0 }, 'p', 't', (id) => id !== first);
  assert.notEqual(other, first);
  const byClient = g.pick('hash_clientid', { value: 0 }, 'pub-7', 't/1', all);
  assert.equal(g.pick('hash_clientid', { value: 0 }, 'pub-7', 't/2', all), byClient);
  const byTopic = g.pick('hash_topic', { value: 0 }, 'p1', 't/9', all);
  assert.equal(g.pick('hash_topic', { value: 0 }, 'p2', 't/9', all), byTopic);
});

test('add and remove: size, key, join order; a removed sticky member is forgotten', () => {
  const g = group('a', 'b');
  assert.equal(g.key, 'g/t/#');
  assert.equal(g.add('a', subOpts(2)), false, 'joining again is not new');
  assert.equal(g.size, 2);
  const stuck = g.pick('sticky', { value: 0 }, 'p', 't', all)!;
  assert.equal(g.remove(stuck), true);
  assert.equal(g.remove(stuck), false);
  assert.notEqual(g.pick('sticky', { value: 0 }, 'p', 't', all), stuck);
  assert.equal(g.size, 1);
});

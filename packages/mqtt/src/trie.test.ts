import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubscriptionTrie } from './trie.js';
import { topicMatches } from './topic.js';

function matched(trie: SubscriptionTrie<number>, topic: string): string[] {
  const out: string[] = [];
  trie.match(topic, (key, _v, filter) => out.push(`${filter}|${key}`));
  return out.sort();
}

test('trie matches exact, + and # filters, and # matches the parent level', () => {
  const t = new SubscriptionTrie<number>();
  for (const f of ['a/b', 'a/+', 'a/#', '#', '+/b', '+', 'a/b/c', '+/+/c']) t.set(f, 'c1', 1);
  assert.deepEqual(matched(t, 'a/b'), ['#|c1', '+/b|c1', 'a/#|c1', 'a/+|c1', 'a/b|c1']);
  assert.deepEqual(matched(t, 'a'), ['#|c1', '+|c1', 'a/#|c1']);
  assert.deepEqual(matched(t, 'a/b/c'), ['#|c1', '+/+/c|c1', 'a/#|c1', 'a/b/c|c1']);
});

test('$-topics are not matched by a leading wildcard', () => {
  const t = new SubscriptionTrie<number>();
  for (const f of ['#', '+/info', '$SYS/#', '$SYS/+']) t.set(f, 'c', 1);
  assert.deepEqual(matched(t, '$SYS/info'), ['$SYS/#|c', '$SYS/+|c']);
});

test('delete prunes and counts stay right', () => {
  const t = new SubscriptionTrie<number>();
  t.set('a/+/c', 'x', 1);
  t.set('a/+/c', 'y', 2);
  t.set('a/b', 'x', 3);
  assert.equal(t.size, 3);
  assert.equal(t.filters, 2);
  assert.equal(t.delete('a/+/c', 'x'), true);
  assert.equal(t.delete('a/+/c', 'x'), false);
  assert.deepEqual(matched(t, 'a/z/c'), ['a/+/c|y']);
  t.delete('a/+/c', 'y');
  t.delete('a/b', 'x');
  assert.equal(t.size, 0);
  assert.equal(t.filters, 0);
  assert.deepEqual([...t.all()], []);
  assert.deepEqual(matched(t, 'a/b'), []);
});

test('trie agrees with topicMatches on random filters and topics', () => {
  const levels = ['a', 'b', '$x', ''];
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const topic = () => Array.from({ length: 1 + rnd(4) }, () => levels[rnd(levels.length)]).join('/');
  const filter = () => {
    const n = 1 + rnd(4);
    const parts = Array.from({ length: n }, () => ['a', 'b', '+', '', '$x'][rnd(5)]);
    if (rnd(3) === 0) parts[n - 1] = '#';
    return parts.join('/');
  };
  const filters = Array.from({ length: 200 }, filter);
  const t = new SubscriptionTrie<number>();
  filters.forEach((f, i) => t.set(f, `k${i}`, i));
  for (let i = 0; i < 500; i++) {
    const tp = topic();
    const expected = filters
      .map((f, j) => (topicMatches(f, tp) ? `${f}|k${j}` : ''))
      .filter(Boolean)
      .sort();
    assert.deepEqual(matched(t, tp), expected, `topic ${tp}`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topicNameError, topicFilterError, parseSharedFilter } from './topic.js';

test('topic names: no wildcards, no NUL, not empty, level limit', () => {
  assert.equal(topicNameError('a/b/c'), null);
  assert.equal(topicNameError('/'), null);
  assert.match(topicNameError('a/+')!, /wildcard/);
  assert.match(topicNameError('a/#')!, /wildcard/);
  assert.match(topicNameError('')!, /empty/);
  assert.match(topicNameError('a\u0000b')!, /NUL/);
  assert.match(topicNameError('a/b/c', { maxLevels: 2, maxLength: 100 })!, /levels/);
  assert.match(topicNameError('abcdef', { maxLevels: 10, maxLength: 5 })!, /long/);
});

test('topic filters: + and # occupy whole levels, # last', () => {
  for (const ok of ['#', '+', 'a/+/b', 'a/#', '+/+', '/+', 'a//b']) assert.equal(topicFilterError(ok), null, ok);
  for (const bad of ['a+', 'a/b#', 'a/#/b', '#/a', '+a/b', 'a/++', '']) assert.notEqual(topicFilterError(bad), null, bad);
});

test('shared filters', () => {
  assert.deepEqual(parseSharedFilter('$share/g/a/+'), { group: 'g', filter: 'a/+' });
  assert.deepEqual(parseSharedFilter('$queue/a/b'), { group: '$queue', filter: 'a/b' });
  assert.equal(parseSharedFilter('a/b'), null);
  assert.equal(typeof parseSharedFilter('$share/g'), 'string');
  assert.equal(typeof parseSharedFilter('$share//a'), 'string');
  assert.equal(typeof parseSharedFilter('$share/g+/a'), 'string');
});

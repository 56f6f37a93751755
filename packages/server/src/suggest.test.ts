import { test } from 'node:test';
import assert from 'node:assert/strict';
import { levenshtein, nearest } from './suggest.js';

test('levenshtein', () => {
  assert.equal(levenshtein('', ''), 0);
  assert.equal(levenshtein('abc', 'abc'), 0);
  assert.equal(levenshtein('kitten', 'sitting'), 3);
  assert.equal(levenshtein('', 'abc'), 3);
});

test('nearest: typos, missing prefixes, nothing when far', () => {
  const known = ['mqtt', 'mqtt.max_inflight', 'mqtt.max_mqueue_len', 'listeners.tcp.default', 'listeners.tcp.default.bind'];
  assert.equal(nearest('mqtt.max_inflite', known), 'mqtt.max_inflight');
  assert.equal(nearest('mqtt.inflight', known), 'mqtt.max_inflight');
  assert.equal(nearest('listeners.tcp.defualt', known), 'listeners.tcp.default');
  assert.equal(nearest('MQTT.MAX_INFLIGHT', known), 'mqtt.max_inflight');
  assert.equal(nearest('totally.unrelated', known), undefined);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBind, formatByteSize, formatDuration, isAddress, isHttpUrl, parseBind, parseByteSize, parseDuration } from './config-values.js';

test('durations: units, compounds, decimals, plain numbers as ms', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('15s'), 15_000);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('1w'), 604_800_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration(' 15S '), 15_000);
  assert.equal(parseDuration(2500), 2500);
  assert.equal(parseDuration('2500'), 2500);
});

test('durations: rejects what is not one', () => {
  for (const bad of ['', 'abc', '15 s', 's', '15sec', '-1s', '1h 30m', '15y', true, null, [], -5]) {
    assert.equal(parseDuration(bad), undefined, `accepted ${JSON.stringify(bad)}`);
  }
});

test('durations: printed in the largest exact unit', () => {
  assert.equal(formatDuration(15_000), '15s');
  assert.equal(formatDuration(7_200_000), '2h');
  assert.equal(formatDuration(86_400_000), '24h');
  assert.equal(formatDuration(90_000), '90s');
  assert.equal(formatDuration(1500), '1500ms');
  assert.equal(formatDuration(0), '0s');
});

test('byte sizes: 1024-based units, case-insensitive, plain numbers as bytes', () => {
  assert.equal(parseByteSize('1MB'), 1_048_576);
  assert.equal(parseByteSize('64KB'), 65_536);
  assert.equal(parseByteSize('64kb'), 65_536);
  assert.equal(parseByteSize('1 MB'), 1_048_576);
  assert.equal(parseByteSize('1GiB'), 1024 ** 3);
  assert.equal(parseByteSize('512B'), 512);
  assert.equal(parseByteSize('512'), 512);
  assert.equal(parseByteSize(4096), 4096);
  assert.equal(parseByteSize('1.5KB'), 1536);
  for (const bad of ['', 'MB', '1TB', '1 M B', '-1KB', 1.5, -1, true]) {
    assert.equal(parseByteSize(bad), undefined, `accepted ${JSON.stringify(bad)}`);
  }
  assert.equal(formatByteSize(1_048_576), '1MB');
  assert.equal(formatByteSize(65_536), '64KB');
  assert.equal(formatByteSize(1000), '1000B');
});

test('binds: host:port, [ipv6]:port, port alone, port 0', () => {
  assert.deepEqual(parseBind('0.0.0.0:1883'), { host: '0.0.0.0', port: 1883 });
  assert.deepEqual(parseBind('127.0.0.1:1884'), { host: '127.0.0.1', port: 1884 });
  assert.deepEqual(parseBind('localhost:1883'), { host: 'localhost', port: 1883 });
  assert.deepEqual(parseBind('[::]:1883'), { host: '::', port: 1883 });
  assert.deepEqual(parseBind('[::1]:8083'), { host: '::1', port: 8083 });
  assert.deepEqual(parseBind('1883'), { host: '0.0.0.0', port: 1883 });
  assert.deepEqual(parseBind(':1883'), { host: '0.0.0.0', port: 1883 });
  assert.deepEqual(parseBind(1883), { host: '0.0.0.0', port: 1883 });
  assert.deepEqual(parseBind(0), { host: '0.0.0.0', port: 0 });
  assert.deepEqual(parseBind('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
});

test('binds: rejects bad ports and hosts', () => {
  for (const bad of ['', 'abc', '65536', '127.0.0.1:65536', '127.0.0.1:', ':::1883', '[zz]:1883', '::1:1883', 'a b:1', 1.5, -1, 70000, true]) {
    assert.equal(parseBind(bad), undefined, `accepted ${JSON.stringify(bad)}`);
  }
});

test('peer addresses need a host and a non-zero port; URLs need http(s)', () => {
  assert.equal(isAddress('127.0.0.1:5371'), true);
  assert.equal(isAddress('node2.vireo:5370'), true);
  assert.equal(isAddress('[::1]:5370'), true);
  assert.equal(isAddress('5370'), false);
  assert.equal(isAddress('127.0.0.1:0'), false);
  assert.equal(isAddress('127.0.0.1'), false);
  assert.equal(isHttpUrl('http://127.0.0.1:2379'), true);
  assert.equal(isHttpUrl('etcd:2379'), false);
  assert.equal(formatBind({ host: '::', port: 1883 }), '[::]:1883');
  assert.equal(formatBind({ host: '0.0.0.0', port: 1883 }), '0.0.0.0:1883');
});

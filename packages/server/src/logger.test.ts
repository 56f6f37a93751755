import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger, usesPretty } from './logger.js';

function capture(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, lines: () => Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean) };
}

test('JSON lines carry node, a level name and an ISO time', async () => {
  const { stream, lines } = capture();
  const log = createLogger({ node: 'vireo@t', level: 'info', format: 'json', destination: stream });
  log.info({ clientid: 'c1' }, 'hello');
  log.debug('hidden');
  await new Promise((r) => setImmediate(r));
  const [line, ...rest] = lines();
  assert.equal(rest.length, 0);
  const obj = JSON.parse(line ?? '') as Record<string, unknown>;
  assert.equal(obj.node, 'vireo@t');
  assert.equal(obj.level, 'info');
  assert.equal(obj.msg, 'hello');
  assert.equal(obj.clientid, 'c1');
  assert.match(String(obj.time), /^\d{4}-\d\d-\d\dT/);
});

test('EMQX level names map to pino levels', () => {
  const { stream } = capture();
  assert.equal(createLogger({ node: 'n', level: 'warning', format: 'json', destination: stream }).level, 'warn');
  assert.equal(createLogger({ node: 'n', level: 'notice', format: 'json', destination: stream }).level, 'info');
  assert.equal(createLogger({ node: 'n', level: 'critical', format: 'json', destination: stream }).level, 'fatal');
});

test('text format is human-readable', async () => {
  const { stream, lines } = capture();
  const log = createLogger({ node: 'vireo@t', level: 'info', format: 'text', destination: stream });
  log.info('hello there');
  await new Promise((r) => setImmediate(r));
  assert.match(lines()[0] ?? '', /INFO.*hello there/);
  assert.equal(usesPretty('auto', true), true);
  assert.equal(usesPretty('auto', false), false);
  assert.equal(usesPretty('json', true), false);
});

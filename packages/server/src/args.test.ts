import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand } from './args.js';

test('start with and without options', () => {
  assert.deepEqual(parseCommand(['start']), { cmd: 'start', config: undefined, force: false });
  assert.deepEqual(parseCommand(['start', '--config', 'v.yaml', '--force']), { cmd: 'start', config: 'v.yaml', force: true });
  assert.deepEqual(parseCommand(['start', '-c', 'v.yaml']), { cmd: 'start', config: 'v.yaml', force: false });
  assert.deepEqual(parseCommand(['start', '--config=v.yaml']), { cmd: 'start', config: 'v.yaml', force: false });
});

test('help and version, as commands or flags', () => {
  assert.deepEqual(parseCommand(['--help']), { cmd: 'help' });
  assert.deepEqual(parseCommand(['-h']), { cmd: 'help' });
  assert.deepEqual(parseCommand(['help']), { cmd: 'help' });
  assert.deepEqual(parseCommand(['start', '--help']), { cmd: 'help' });
  assert.deepEqual(parseCommand(['version']), { cmd: 'version' });
  assert.deepEqual(parseCommand(['--version']), { cmd: 'version' });
});

test('usage errors', () => {
  assert.equal(parseCommand([]).cmd, 'usage');
  assert.deepEqual(parseCommand(['stop']), { cmd: 'usage', message: 'unknown command: stop' });
  assert.equal(parseCommand(['start', '--bogus']).cmd, 'usage');
  assert.equal(parseCommand(['start', '--config']).cmd, 'usage');
  assert.equal(parseCommand(['start', 'extra']).cmd, 'usage');
  assert.equal(parseCommand(['version', '--force']).cmd, 'usage');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tuneVm } from './vm-tuning.js';

test('vireo start turns off the parallel scavenger unless the user chose it on the command line or in NODE_OPTIONS', () => {
  assert.deepEqual(tuneVm([], ''), ['--no-parallel-scavenge']);
  assert.deepEqual(tuneVm(['--parallel-scavenge'], ''), [], 'given on the command line: kept');
  assert.deepEqual(tuneVm([], '--max-old-space-size=512 --parallel-scavenge'), [], 'given in NODE_OPTIONS: kept');
  assert.deepEqual(tuneVm(['--no-parallel-scavenge'], ''), [], 'already off: nothing to do');
});

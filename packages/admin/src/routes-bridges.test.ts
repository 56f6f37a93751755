import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeBridges, type NodeBridge } from './routes-bridges.js';

const bridge = (status: string, matched: number, reason?: string): NodeBridge => ({
  type: 'mqtt',
  name: 'cloud',
  server: 'h:1883',
  ingress: undefined,
  egress: 'up/#',
  status,
  status_reason: reason,
  metrics: { matched, success: matched, failed: 0, dropped: 0, queuing: 0, inflight: 0, received: 0 },
});

test('one bridge on two nodes: counters summed, per node kept, status inconsistent when they differ', () => {
  const [v] = mergeBridges([
    { node: 'a', value: [bridge('connected', 3)] },
    { node: 'b', value: [bridge('disconnected', 4, 'connect ECONNREFUSED')] },
  ]);
  assert.equal(v?.id, 'mqtt:cloud');
  assert.equal(v?.status, 'inconsistent');
  assert.equal(v?.metrics.matched, 7);
  assert.deepEqual(v?.node_status, [
    { node: 'a', status: 'connected' },
    { node: 'b', status: 'disconnected', status_reason: 'connect ECONNREFUSED' },
  ]);
  assert.deepEqual(
    v?.node_metrics.map((m) => [m.node, m.metrics.matched]),
    [
      ['a', 3],
      ['b', 4],
    ],
  );
  assert.equal(
    mergeBridges([
      { node: 'a', value: [bridge('connected', 1)] },
      { node: 'b', value: [bridge('connected', 1)] },
    ])[0]?.status,
    'connected',
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RebalanceCoordinator, type CoordinatorStatus, type DonorControl } from './rebalance-coordinator.js';
import { REBALANCE_DEFAULTS, needRebalance, sheds, split, withinThresholds, type NodeCounts, type RebalanceOpts } from './rebalance-plan.js';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

function counts(c: Record<string, number>, offline: Record<string, number> = {}): Map<string, NodeCounts> {
  return new Map(Object.entries(c).map(([n, k]) => [n, { connections: k, sessions: k + (offline[n] ?? 0), disconnected: offline[n] ?? 0 }]));
}

test("EMQX's thresholds: 150/150/0 is balanced enough at the defaults, not at tight ones; donors are above the mean", () => {
  const c = counts({ a: 150, b: 150, c: 0 });
  const s = split(c);
  assert.deepEqual(s, { donors: ['a', 'b'], recipients: ['c'], connMean: 100 });
  assert.equal(needRebalance(s, c, { nodes: ['a', 'b', 'c'], ...REBALANCE_DEFAULTS }), false);
  assert.equal(needRebalance(s, c, { nodes: ['a', 'b', 'c'], ...REBALANCE_DEFAULTS, abs_conn_threshold: 10, rel_conn_threshold: 1.1 }), true);
  assert.equal(withinThresholds(105, 100, 10, 1.01), true);
  assert.equal(withinThresholds(111, 100, 10, 1.1), false);
  assert.equal(withinThresholds(110, 100, 5, 1.1), true);
  // each donor sheds down to the mean, at most a round's worth
  assert.deepEqual(
    [...sheds(['a', 'b'], c, 'connections', 100, 30)],
    [
      ['a', 30],
      ['b', 30],
    ],
  );
  assert.deepEqual(
    [...sheds(['a', 'b'], c, 'connections', 100, 500)],
    [
      ['a', 50],
      ['b', 50],
    ],
  );
  // equal nodes: no donor, nothing to do
  const even = counts({ a: 100, b: 100 });
  assert.equal(needRebalance(split(even), even, { nodes: ['a', 'b'], ...REBALANCE_DEFAULTS, abs_conn_threshold: 1, rel_conn_threshold: 1 }), false);
});

/** Nodes whose evicted clients reconnect, a moment later, to the node with the fewest connections that is not a donor. */
class FakeCluster implements DonorControl {
  readonly enabled = new Set<string>();
  readonly calls: string[] = [];
  down = new Set<string>();
  constructor(readonly conns: Map<string, number>) {}
  async counts(node: string): Promise<NodeCounts> {
    if (this.down.has(node)) throw new Error('not running');
    const k = this.conns.get(node)!;
    return { connections: k, sessions: k, disconnected: 0 };
  }
  async enable(node: string): Promise<void> {
    this.enabled.add(node);
    this.calls.push(`enable ${node}`);
  }
  async disable(node: string): Promise<void> {
    this.enabled.delete(node);
    this.calls.push(`disable ${node}`);
  }
  async evictConns(node: string, _coordinator: string, count: number): Promise<number> {
    this.conns.set(node, this.conns.get(node)! - count);
    setTimeout(() => {
      for (let i = 0; i < count; i++) {
        const to = [...this.conns].filter(([n]) => !this.enabled.has(n)).sort((x, y) => x[1] - y[1])[0]![0];
        this.conns.set(to, this.conns.get(to)! + 1);
      }
    }, 15);
    return count;
  }
  async evictSessions(): Promise<number> {
    return 0;
  }
}

const opts = (o: Partial<RebalanceOpts>): RebalanceOpts => ({ nodes: ['a', 'b', 'c'], ...REBALANCE_DEFAULTS, wait_health_check: 0, wait_takeover: 0, ...o });

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a rebalance evicts from the donors at the rate until within the thresholds, then lets them take clients again', async () => {
  const fake = new FakeCluster(
    new Map([
      ['a', 150],
      ['b', 150],
      ['c', 0],
    ]),
  );
  const seen: (CoordinatorStatus | undefined)[] = [];
  const co = new RebalanceCoordinator({ self: 'a', control: fake, log: quiet, roundMs: 30, onChange: (s) => seen.push(s) });
  const r = await co.start(opts({ conn_evict_rate: 20, abs_conn_threshold: 5, rel_conn_threshold: 1.05 }));
  assert.ok(r.ok);
  assert.deepEqual(r.status.donors, ['a', 'b']);
  assert.deepEqual([...fake.enabled].sort(), ['a', 'b'], 'the donors give load away at once');
  assert.equal((await co.start(opts({}))).ok, false, 'one rebalance at a time');
  await until(() => co.status() === undefined, 'the rebalance to finish');
  const [a, b, c] = ['a', 'b', 'c'].map((n) => fake.conns.get(n)!);
  assert.equal(a! + b! + c!, 300);
  for (const k of [a!, b!, c!]) assert.ok(Math.abs(k - 100) <= 5, `counts ${a}/${b}/${c} within the thresholds of the mean`);
  assert.equal(fake.enabled.size, 0, 'every donor takes clients again');
  assert.ok(seen.some((s) => s?.state === 'evicting_conns'));
  assert.ok(seen.some((s) => s?.state === 'wait_takeover'));
  assert.equal(co.finished, 1);
  // 50 per donor at 20 per round: at least three rounds each, never more than 20 at once
  assert.ok(seen.some((s) => s !== undefined && s.evicted_connections >= 100 - 10));
});

test('nothing to balance at EMQX defaults; a node that stops answering aborts and releases the donors; stop ends it', async () => {
  const fake = new FakeCluster(
    new Map([
      ['a', 150],
      ['b', 150],
      ['c', 0],
    ]),
  );
  const co = new RebalanceCoordinator({ self: 'c', control: fake, log: quiet, roundMs: 30 });
  const none = await co.start(opts({ wait_health_check: 0 }));
  assert.equal(none.ok, false);
  assert.equal(!none.ok && none.error, 'nothing_to_balance');

  const r = await co.start(opts({ wait_health_check: 60, abs_conn_threshold: 5, rel_conn_threshold: 1 }));
  assert.ok(r.ok);
  assert.equal(co.status()?.state, 'wait_health_check');
  assert.equal(await co.stop(), true);
  assert.equal(co.status(), undefined);
  assert.equal(fake.enabled.size, 0);
  assert.equal(await co.stop(), false);

  const again = await co.start(opts({ conn_evict_rate: 1, abs_conn_threshold: 5, rel_conn_threshold: 1 }));
  assert.ok(again.ok);
  await until(() => co.status()?.state === 'evicting_conns', 'evicting');
  fake.down.add('c');
  await until(() => co.status() === undefined, 'the abort');
  assert.equal(fake.enabled.size, 0);
  assert.equal(co.aborted, 2);
});

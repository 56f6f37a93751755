import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { newRuleMetrics, type ActionStatus } from './action.js';
import { DisabledConnector, DisabledSink, Sink, type Connector, type ItemResult, type SinkOptions } from './sink.js';

const logger = pino({ level: 'silent' });
const OPTS: SinkOptions = { batchSize: 4, batchTime: 2, maxBufferBytes: 1000, requestTtl: 1000, maxBackoff: 20 };

class FakeConnector implements Connector {
  name = 'fake';
  status: ActionStatus = 'connecting';
  async probe(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Writes into `written`; `mode` decides each call's fate. */
class TestSink extends Sink<number> {
  written: number[] = [];
  batches: number[][] = [];
  mode: 'ok' | 'throw' | 'sync-throw' | ((batch: number[]) => ItemResult[]) = 'ok';
  constructor(opts: SinkOptions = OPTS) {
    super('test:x', new FakeConnector(), opts, logger);
  }
  protected render(out: Record<string, unknown>): { value: number; bytes: number } {
    if (typeof out.n !== 'number') throw new Error('no n');
    return { value: out.n, bytes: 100 };
  }
  protected write(batch: number[]): Promise<ItemResult[]> {
    this.batches.push(batch);
    const mode = this.mode;
    if (mode === 'sync-throw') throw new Error('boom (sync)');
    if (mode === 'throw') return Promise.reject(new Error('down'));
    const results = mode === 'ok' ? batch.map((): ItemResult => 'ok') : mode(batch);
    batch.forEach((n, i) => results[i] === 'ok' && this.written.push(n));
    return Promise.resolve(results);
  }
}

const until = async (cond: () => boolean, what: string) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > 3000) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

test('batches by size and time, in order; success counted per output', async () => {
  const s = new TestSink();
  const m = newRuleMetrics();
  for (let n = 1; n <= 6; n++) s.send({ n }, m, 'r');
  await until(() => s.written.length === 6, 'all written');
  assert.deepEqual(s.written, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(s.batches[0], [1, 2, 3, 4]);
  assert.equal(m['actions.success'], 6);
  s.close();
});

test('a failing write (thrown, sync or async) is retried in order until it passes; nothing lost', async () => {
  for (const failure of ['throw', 'sync-throw'] as const) {
    const s = new TestSink();
    const m = newRuleMetrics();
    s.mode = failure;
    for (let n = 1; n <= 5; n++) s.send({ n }, m, 'r');
    await until(() => s.stats.retried >= 3, `${failure}: retried`);
    assert.equal(s.written.length, 0);
    s.mode = 'ok';
    await until(() => s.written.length === 5, `${failure}: written after recovery`);
    assert.deepEqual(s.written, [1, 2, 3, 4, 5]);
    assert.equal(m['actions.success'], 5);
    assert.equal(m['actions.failed'], 0);
    s.close();
  }
});

test('per-item results: failed ones leave, retry keeps that one and the rest in order', async () => {
  const s = new TestSink();
  const m = newRuleMetrics();
  let calls = 0;
  s.mode = (batch) => {
    calls++;
    // first call: 1 ok, 2 refused for good, 3 to retry (and so 4 with it)
    if (calls === 1) return batch.map((n): ItemResult => (n === 1 ? 'ok' : n === 2 ? 'failed' : 'retry'));
    return batch.map((): ItemResult => 'ok');
  };
  for (let n = 1; n <= 4; n++) s.send({ n }, m, 'r');
  await until(() => s.stats.queued === 0, 'drained');
  assert.deepEqual(s.written, [1, 3, 4]);
  assert.deepEqual(s.batches[1], [3, 4]);
  assert.equal(m['actions.success'], 3);
  assert.equal(m['actions.failed'], 1);
  s.close();
});

test('the buffer is bounded in bytes: past it outputs are dropped and counted; a bad render fails alone', async () => {
  const s = new TestSink({ ...OPTS, maxBufferBytes: 300 });
  const m = newRuleMetrics();
  s.mode = 'throw';
  for (let n = 1; n <= 10; n++) s.send({ n }, m, 'r');
  s.send({ notanumber: true }, m, 'r');
  assert.equal(s.stats.queued, 3);
  assert.equal(s.stats.dropped, 7);
  assert.equal(m['actions.failed'], 8);
  s.mode = 'ok';
  await until(() => s.written.length === 3, 'held ones written');
  assert.deepEqual(s.written, [1, 2, 3]);
  s.close();
});

test('a disabled connector: its actions fail every output at once and hold nothing', () => {
  const s = new DisabledSink('pgsql:x', new DisabledConnector('pg'), OPTS, logger);
  const m = newRuleMetrics();
  s.send({ n: 1 }, m, 'r');
  assert.equal(m['actions.failed'], 1);
  assert.equal(s.stats.queued, 0);
  assert.equal(s.status, 'disconnected');
});

/**
 * Slow consumers: a subscriber that stops reading its socket while a publisher floods QoS 0
 * must not make the broker buffer without bound (its QoS 0 messages are dropped and counted
 * once its write backlog is full), nor slow down or starve the other subscribers; when it
 * reads again it is still connected and gets new messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { IPublishPacket } from 'mqtt-packet';
import { startBroker, connect, endAll, waitFor } from './harness.js';
import { RawClient } from './raw-client.js';
import { captureLog } from './log-capture.js';
import { Bystander, bystanderProblems } from './bystander.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MB = 1024 * 1024;

/** JS heap and Buffer memory after a full GC. */
function memoryAfterGc(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

test('a subscriber that stops reading: bounded broker backlog, QoS 0 dropped and counted, others unaffected', { timeout: 60_000 }, async (t) => {
  const log = captureLog('warn');
  const tb = await startBroker({ logger: log.logger });
  // this test is about the QoS 0 bound alone: force_shutdown (on by default) would disconnect a
  // subscriber that stays stalled this long; that is force-shutdown.test.ts's case
  tb.broker.guard.forceShutdown = undefined;
  const slow = await RawClient.open(tb.port);
  let bystander: Bystander | undefined;
  let fast: Awaited<ReturnType<typeof connect>> | undefined;
  let pub: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    await slow.connect({ clientId: 'slow', protocolVersion: 4, keepalive: 0 });
    slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 0 }] });
    await slow.next('suback');
    // from here on the slow subscriber reads nothing: the kernel buffers fill, then the broker's
    slow.socket.pause();
    fast = await connect(tb.url, { clientId: 'fast', protocolVersion: 5 });
    await fast.subscribeAsync('flood/#', { qos: 0 });
    let fastGot = 0;
    let fastLastSeq = -1;
    let fastOutOfOrder = 0;
    fast.on('message', (_topic, payload) => {
      const seq = payload.readUInt32BE(0);
      if (seq <= fastLastSeq) fastOutOfOrder++;
      fastLastSeq = seq;
      fastGot++;
    });
    bystander = await Bystander.start(tb.url, { protocolVersion: 4, everyMs: 10 });
    pub = await connect(tb.url, { clientId: 'flooder', protocolVersion: 4 });

    const slowChannel = tb.broker.connection('slow');
    assert.ok(slowChannel, 'the slow subscriber is connected');
    const memBefore = memoryAfterGc();
    const droppedBefore = tb.broker.stats.msgDropped;
    const N = 40_000;
    const payload = Buffer.alloc(2048, 0x61); // 80 MB in all
    let peakBacklog = 0;
    const started = Date.now();
    for (let i = 0; i < N; i++) {
      const p = Buffer.from(payload);
      p.writeUInt32BE(i, 0);
      pub.publish('flood/x', p, { qos: 0 });
      if (i % 250 === 249) {
        // keep pace with the fast subscriber (not the slow one): at most 500 messages ahead of it
        await waitFor(() => fastGot >= i - 500, `fast subscriber at ${i - 500}`, 10_000);
        peakBacklog = Math.max(peakBacklog, slowChannel.backlog);
      }
    }
    await waitFor(() => fastGot >= N, `fast subscriber got all ${N} (has ${fastGot})`, 15_000);
    const floodMs = Date.now() - started;
    peakBacklog = Math.max(peakBacklog, slowChannel.backlog);
    const memGrowth = memoryAfterGc() - memBefore;
    const dropped = tb.broker.stats.msgDropped - droppedBefore;
    t.diagnostic(
      `flood of ${N} x 2 KB took ${floodMs} ms; slow backlog peak ${(peakBacklog / MB).toFixed(2)} MB; ` + `dropped ${dropped}; memory growth ${(memGrowth / MB).toFixed(1)} MB`,
    );
    assert.equal(fastGot, N, 'the fast subscriber got every message');
    assert.equal(fastOutOfOrder, 0, 'in order');
    // the broker holds at most about 1 MB for the stalled subscriber, not the 80 MB flood
    assert.ok(peakBacklog <= 2 * MB, `slow subscriber's backlog peaked at ${(peakBacklog / MB).toFixed(1)} MB`);
    assert.ok(memGrowth < 40 * MB, `heap+buffers grew by ${(memGrowth / MB).toFixed(1)} MB while the slow subscriber stalled`);
    // what did not fit was dropped, and counted
    assert.ok(dropped > N / 2, `dropped ${dropped} of ${N} for the stalled subscriber`);
    assert.equal(tb.broker.stats.droppedBy.get('qos0_msg') ?? 0, dropped, 'counted as qos0_msg drops');
    assert.deepEqual(
      log.find('Dropping QoS 0 messages for a slow subscriber').map((l) => l.clientid),
      ['slow'],
      'logged once, when the slow subscriber fell behind',
    );
    assert.deepEqual(bystanderProblems(await bystander.stop(10), 10), [], 'QoS 1 traffic beside the flood');

    // the slow subscriber reads again: still connected, gets what was buffered, then new messages in order
    assert.equal(slow.closed, false, 'the slow subscriber was not disconnected');
    slow.socket.resume();
    await waitFor(() => slowChannel.backlog === 0, 'the slow subscriber to catch up', 10_000);
    const seqOf = (p: IPublishPacket) => Buffer.from(p.payload as Buffer).readUInt32BE(0);
    const end = Buffer.alloc(8);
    end.writeUInt32BE(N, 0);
    pub.publish('flood/x', end, { qos: 0 });
    const last = (await slow.next((p) => p.cmd === 'publish' && seqOf(p as IPublishPacket) === N, 10_000)) as IPublishPacket;
    assert.equal(seqOf(last), N);
    const seqs = slow.all.filter((p) => p.cmd === 'publish').map((p) => seqOf(p as IPublishPacket));
    assert.ok(seqs.length < N / 2, `slow got ${seqs.length} (the rest were dropped)`);
    assert.ok(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
      'what the slow subscriber got is in order',
    );
    assert.deepEqual(slow.parseErrors, [], 'and well formed');
  } finally {
    slow.destroy();
    await bystander?.destroy();
    await endAll(fast, pub);
    await tb.close();
  }
});

test('a stalled subscriber does not hold back QoS 1: its window and queue are bounded, others get everything', { timeout: 30_000 }, async () => {
  const tb = await startBroker({ logger: captureLog('warn').logger, mqtt: { maxInflight: 8, maxMqueueLen: 100 } });
  const slow = await RawClient.open(tb.port);
  let fast: Awaited<ReturnType<typeof connect>> | undefined;
  let pub: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    await slow.connect({ clientId: 'slow1', protocolVersion: 5, keepalive: 0 });
    slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q1/#', qos: 1 }] });
    await slow.next('suback');
    slow.socket.pause();
    fast = await connect(tb.url, { clientId: 'fast1', protocolVersion: 5 });
    await fast.subscribeAsync('q1/#', { qos: 1 });
    let fastGot = 0;
    fast.on('message', () => fastGot++);
    pub = await connect(tb.url, { clientId: 'pub1', protocolVersion: 5 });
    const N = 2000;
    const payload = Buffer.alloc(1024, 0x62);
    for (let i = 0; i < N; i += 50) {
      // batches of 50 (within the fast subscriber's window + queue), each once it has the last
      await Promise.all(Array.from({ length: 50 }, () => pub!.publishAsync('q1/x', payload, { qos: 1 })));
      await waitFor(() => fastGot >= i + 50, `fast subscriber at ${i + 50}`, 10_000);
    }
    await waitFor(() => fastGot >= N, `fast got ${N}`, 10_000).catch((e) => {
      throw new Error(
        `${e.message}: ${fastGot}, fast session inflight ${tb.broker.session('fast1')?.inflight.size} mqueue ${tb.broker.session('fast1')?.mqueue.length} dropped ${JSON.stringify([...tb.broker.stats.droppedBy])}`,
      );
    });
    assert.equal(fastGot, N);
    const session = tb.broker.session('slow1')!;
    assert.ok(session.inflight.size <= 8, `inflight ${session.inflight.size}`);
    assert.ok(session.mqueue.length <= 100, `mqueue ${session.mqueue.length}`);
    assert.equal(tb.broker.stats.droppedBy.get('queue_full') ?? 0, N - session.inflight.size - session.mqueue.length, 'the rest dropped as queue_full, all for the slow one');
  } finally {
    slow.destroy();
    await endAll(fast, pub);
    await tb.close();
  }
});

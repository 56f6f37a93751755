import { test } from 'node:test';
import assert from 'node:assert/strict';
/**
 * Alarms and sysmon on their own, with a real in-process broker (no listener): raising once,
 * clearing, the history's limits, and the watermarks' hysteresis from given readings.
 */
import pino from 'pino';
import { createBroker, type Broker, type Message } from '@vireo/broker';
import { Alarms, DEFAULT_SYSMON_OPTIONS, Sysmon, type SysmonProbes } from '@vireo/admin';

type MemoryUsage = ReturnType<SysmonProbes['memory']>;

/** A real broker with no listener, quiet; its published messages are collected. */
async function quietBroker(): Promise<{ broker: Broker; published: Message[] }> {
  const broker = await createBroker({ nodeName: 'n1@host', listeners: [], logger: pino({ level: 'silent' }) });
  const published: Message[] = [];
  broker.on('message.publish', (m: Message) => published.push(m));
  return { broker, published };
}

test('an alarm is raised once, cleared once, published each time; the history keeps size_limit entries for validity_period', async () => {
  const { broker, published } = await quietBroker();
  try {
    const alarms = new Alarms(broker, { actions: ['log', 'publish'], sizeLimit: 2, validityPeriodMs: 60_000 });
    assert.equal(alarms.activate('a', { x: 1 }, 'A is up'), true);
    assert.equal(alarms.activate('a', { x: 2 }, 'A again'), false, 'already active: nothing new');
    assert.equal(alarms.deactivate('b'), false, 'never raised');
    assert.deepEqual(
      published.map((m) => m.topic),
      ['$SYS/brokers/n1@host/alarms/activate'],
    );
    const body = JSON.parse(published[0]!.payload.toString()) as Record<string, unknown>;
    assert.deepEqual([body.name, body.activated, body.deactivate_at, body.message], ['a', true, 'infinity', 'A is up']);
    assert.equal(alarms.deactivate('a', { x: 0 }, 'A is down'), true);
    assert.equal(published.length, 2);
    assert.equal(published[1]!.topic, '$SYS/brokers/n1@host/alarms/deactivate');
    for (const n of ['b', 'c']) {
      alarms.activate(n, {}, n);
      alarms.deactivate(n);
    }
    // size_limit 2: the oldest deactivated (a) is forgotten, newest first
    assert.deepEqual(
      alarms.views(false).map((v) => v.name),
      ['c', 'b'],
    );
    assert.ok(alarms.views(false).every((v) => !v.activated && v.deactivate_at !== 'infinity'));
    assert.equal(alarms.clearDeactivated(), 2);
    assert.deepEqual(alarms.views(), []);

    const short = new Alarms(broker, { actions: [], sizeLimit: 10, validityPeriodMs: 1 });
    short.activate('d', {}, 'd');
    short.deactivate('d');
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(short.views(false), [], 'older than validity_period');
    assert.equal(published.length, 6, 'actions [] publishes nothing');
  } finally {
    await broker.close();
  }
});

test('sysmon: memory alarms raise at the high watermark and clear under it; descriptors clear only under the low one', async () => {
  const { broker } = await quietBroker();
  try {
    let mem: MemoryUsage = { total: 1000, available: 100, rss: 10, heapUsed: 1, heapLimit: 100 };
    let fds = { open: 85, limit: 100 };
    const alarms = new Alarms(broker, { actions: [], sizeLimit: 10, validityPeriodMs: 60_000 });
    const mon = new Sysmon(broker, alarms, { ...DEFAULT_SYSMON_OPTIONS, longScheduleMs: 0 }, { memory: () => mem, fds: () => fds });
    mon.checkMemory();
    assert.deepEqual(alarms.activeNames(), ['high_system_memory_usage'], '90 % in use ≥ 70 %; RSS 1 % < 5 %');
    mem = { ...mem, available: 500, rss: 60 };
    mon.checkMemory();
    assert.deepEqual(alarms.activeNames(), ['high_process_memory_usage']);
    mon.checkProcess();
    assert.ok(alarms.isActive('too_many_file_descriptors'), '85 % ≥ 80 %');
    fds = { open: 70, limit: 100 };
    mon.checkProcess();
    assert.ok(alarms.isActive('too_many_file_descriptors'), '70 % is not under the low watermark (60 %)');
    fds = { open: 50, limit: 100 };
    mon.checkProcess();
    assert.ok(!alarms.isActive('too_many_file_descriptors'));
  } finally {
    await broker.close();
  }
});

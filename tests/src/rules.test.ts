/** Rule engine in a real broker with real MQTT clients: republish, events, metrics, no loops. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { RuleEngine, RuleError, RuleStore } from '@vireo/rules';
import { MemoryRecordTables } from '@vireo/access';
import { collect, connect, endAll, waitFor, withBroker } from './harness.js';

const silent = pino({ level: process.env.VIREO_TEST_LOG ?? 'silent' });

test('republish: the issue example sends alerts/<clientid> with the selected value, and counts', () =>
  withBroker({}, async (tb) => {
    const engine = new RuleEngine(tb.broker, { logger: silent });
    const sub = await connect(tb.url, { clientId: 'watcher' });
    const pub = await connect(tb.url, { clientId: 'dev-7' });
    try {
      engine.put({
        id: 'hot',
        sql: 'SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30',
        actions: [{ function: 'republish', args: { topic: 'alerts/${clientid}', qos: 1, payload: '${t}' } }],
        enable: true,
        description: '',
      });
      await sub.subscribeAsync('alerts/#', { qos: 1 });
      const got = collect(sub, 1);
      await pub.publishAsync('sensors/room1', JSON.stringify({ temp: 20 }), { qos: 1 });
      await pub.publishAsync('sensors/room1', JSON.stringify({ temp: 31.5 }), { qos: 1 });
      const [m] = await got;
      assert.equal(m!.topic, 'alerts/dev-7');
      assert.equal(m!.payload, '31.5');
      assert.equal(m!.packet.qos, 1);
      const metrics = engine.get('hot')!.metrics;
      await waitFor(() => metrics.matched === 2, 'both messages matched');
      assert.equal(metrics.passed, 1);
      assert.equal(metrics['failed.no_result'], 1);
      assert.equal(metrics['actions.success'], 1);
      // a topic no rule's FROM names is not even queued
      await pub.publishAsync('other/topic', '{"temp": 99}', { qos: 1 });
      assert.equal(engine.stats.pending, 0);
      assert.equal(metrics.matched, 2);
    } finally {
      engine.close();
      await endAll(sub, pub);
    }
  }));

test('republish to a topic its own FROM matches does not loop; disabled and deleted rules stop', () =>
  withBroker({}, async (tb) => {
    const engine = new RuleEngine(tb.broker, { logger: silent });
    const sub = await connect(tb.url, { clientId: 'watcher' });
    const pub = await connect(tb.url, { clientId: 'p' });
    try {
      const spec = {
        id: 'copy',
        sql: 'SELECT * FROM "t/#" WHERE topic != \'t/copy\' or true',
        actions: [{ function: 'republish', args: { topic: 't/copy' } }],
        enable: true,
        description: '',
      };
      engine.put(spec);
      await sub.subscribeAsync('t/#', { qos: 1 });
      const got = collect(sub, 2);
      await pub.publishAsync('t/in', 'hello', { qos: 1, retain: false });
      const msgs = await got;
      assert.deepEqual(msgs.map((m) => `${m.topic}=${m.payload}`).sort(), ['t/copy=hello', 't/in=hello']);
      await waitFor(() => engine.get('copy')!.metrics['actions.success'] === 1, 'republished once');
      // give a loop every chance to show itself: another message round-trips, still exactly one copy each
      const more = collect(sub, 2);
      await pub.publishAsync('t/in', 'again', { qos: 1 });
      assert.equal((await more).filter((m) => m.topic === 't/copy').length, 1);
      assert.equal(engine.get('copy')!.metrics.matched, 2);

      engine.put({ ...spec, enable: false });
      const off = collect(sub, 1);
      await pub.publishAsync('t/in', 'off', { qos: 1 });
      await off;
      assert.equal(engine.get('copy')!.metrics.matched, 2, 'a disabled rule keeps its counters and does not run');
      assert.equal(engine.delete('copy'), true);
      assert.equal(engine.get('copy'), undefined);
    } finally {
      engine.close();
      await endAll(sub, pub);
    }
  }));

test('events: client_connected, session_subscribed and client_disconnected with EMQX field names', () =>
  withBroker({}, async (tb) => {
    const engine = new RuleEngine(tb.broker, { logger: silent });
    const sub = await connect(tb.url, { clientId: 'watcher' });
    let dev: Awaited<ReturnType<typeof connect>> | undefined;
    try {
      engine.put({
        id: 'ev',
        sql: `SELECT event, clientid, username, keepalive, clean_start, topic, qos, reason, peerhost, node
            FROM "$events/client_connected", "$events/session_subscribed", "$events/client_disconnected"
            WHERE clientid = 'dev-1'`,
        actions: [{ function: 'republish', args: { topic: 'events/${event}', payload: '${.}' } }],
        enable: true,
        description: '',
      });
      await sub.subscribeAsync('events/#');
      const got = collect(sub, 3);
      dev = await connect(tb.url, { clientId: 'dev-1', username: 'alice', keepalive: 42 });
      await dev.subscribeAsync('cmd/dev-1', { qos: 1 });
      await endAll(dev);
      const byEvent = new Map((await got).map((m) => [m.topic, JSON.parse(m.payload) as Record<string, unknown>]));
      const c = byEvent.get('events/client.connected')!;
      assert.equal(c.clientid, 'dev-1');
      assert.equal(c.username, 'alice');
      assert.equal(c.keepalive, 42);
      assert.equal(c.clean_start, true);
      assert.equal(c.peerhost, '127.0.0.1');
      assert.equal(c.node, 'vireo@test');
      const s = byEvent.get('events/session.subscribed')!;
      assert.equal(s.topic, 'cmd/dev-1');
      assert.equal(s.qos, 1);
      const d = byEvent.get('events/client.disconnected')!;
      assert.equal(typeof d.reason, 'string');
    } finally {
      engine.close();
      await endAll(sub, dev);
    }
  }));

test('a rule with a syntax error or an unknown action is refused, naming where, and changes nothing', () =>
  withBroker({}, async (tb) => {
    const engine = new RuleEngine(tb.broker, { logger: silent });
    try {
      assert.throws(
        () => engine.put({ id: 'bad', sql: 'SELECT a FROM "t" WHER a > 1', actions: [], enable: true, description: '' }),
        (e: unknown) => e instanceof RuleError && e.field === 'sql' && /line 1, column 19/.test(e.message),
      );
      assert.throws(
        () => engine.put({ id: 'bad', sql: 'SELECT a FROM "t"', actions: ['pgsql:nowhere'], enable: true, description: '' }),
        (e: unknown) => e instanceof RuleError && e.field === 'actions[0]' && /no action pgsql:nowhere/.test(e.message),
      );
      assert.equal(engine.list().length, 0);
      assert.equal(tb.broker.listenerCount('message.publish'), 0, 'no rule, no listener on the publish path');
    } finally {
      engine.close();
    }
  }));

test('message events: message_delivered names receiver and publisher, message_dropped the reason', () =>
  withBroker({}, async (tb) => {
    const engine = new RuleEngine(tb.broker, { logger: silent });
    const watcher = await connect(tb.url, { clientId: 'watcher' });
    const sub = await connect(tb.url, { clientId: 'receiver', username: 'rcv' });
    const pub = await connect(tb.url, { clientId: 'sender', username: 'snd' });
    try {
      engine.put({
        id: 'ev',
        sql: `SELECT event, clientid, username, from_clientid, from_username, topic, payload, reason
            FROM "$events/message_delivered", "$events/message_dropped" WHERE topic =~ 'd/#' or topic =~ 'nobody/#'`,
        actions: [{ function: 'republish', args: { topic: 'ev/${event}', payload: '${.}' } }],
        enable: true,
        description: '',
      });
      await watcher.subscribeAsync('ev/#');
      await sub.subscribeAsync('d/#', { qos: 1 });
      const got = collect(watcher, 2);
      await pub.publishAsync('d/1', 'hello', { qos: 1 });
      await pub.publishAsync('nobody/1', 'lost', { qos: 1 });
      const byTopic = new Map((await got).map((m) => [m.topic, JSON.parse(m.payload) as Record<string, unknown>]));
      assert.deepEqual(byTopic.get('ev/message.delivered'), {
        event: 'message.delivered',
        clientid: 'receiver',
        username: 'rcv',
        from_clientid: 'sender',
        from_username: 'snd',
        topic: 'd/1',
        payload: 'hello',
      });
      assert.deepEqual(byTopic.get('ev/message.dropped'), {
        event: 'message.dropped',
        clientid: 'sender',
        username: 'snd',
        topic: 'nobody/1',
        payload: 'lost',
        reason: 'no_subscribers',
      });
    } finally {
      engine.close();
      await endAll(watcher, sub, pub);
    }
  }));

test('rules made through the API are kept in the record table and come back at the next start, over the configuration', () =>
  withBroker({}, async (tb) => {
    const tables = new MemoryRecordTables();
    const spec = { id: 'kept', sql: 'SELECT * FROM "k/#"', actions: [], enable: true, description: 'from the API' };
    const first = new RuleStore(new RuleEngine(tb.broker, { logger: silent }), tables.table('rules'), new Set(['cfg']), silent);
    first.engine.put({ id: 'cfg', sql: 'SELECT * FROM "c/#"', actions: [], enable: true, description: 'config' }, 'config');
    first.put(spec);
    first.put({ id: 'cfg', sql: 'SELECT * FROM "c/#"', actions: [], enable: false, description: 'changed through the API' });
    assert.throws(() => first.delete('cfg'), /defined in the configuration/);
    first.engine.close();

    const engine = new RuleEngine(tb.broker, { logger: silent });
    engine.put({ id: 'cfg', sql: 'SELECT * FROM "c/#"', actions: [], enable: true, description: 'config' }, 'config');
    const again = new RuleStore(engine, tables.table('rules'), new Set(['cfg']), silent);
    again.loadSaved();
    assert.equal(engine.get('kept')?.description, 'from the API');
    assert.equal(engine.get('kept')?.source, 'api');
    assert.equal(engine.get('cfg')?.enable, false, "the API's version wins");
    assert.equal(again.delete('kept'), true);
    assert.deepEqual(
      tables
        .table('rules')
        .entries()
        .map(([k]) => k),
      ['cfg'],
    );
    engine.close();
  }));

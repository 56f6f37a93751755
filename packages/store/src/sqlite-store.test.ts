import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import Database from 'better-sqlite3';
import type { Message, PersistedSession } from '@vireo/broker';
import { openSqliteStore } from './sqlite-store.js';
import { StoreError } from './errors.js';

const root = mkdtempSync(join(tmpdir(), 'vireo-store-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => join(root, `d${++n}`);

const msg = (topic: string, payload: string): Message => ({
  id: 1,
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: true,
  properties: { contentType: 'text/plain', userProperties: { k: ['a', 'b'] }, correlationData: Buffer.from([9]) },
  from: 'c1',
  timestamp: 1000,
  expiresAt: 0,
});
const session = (clientId: string): PersistedSession => ({
  clientId,
  createdAt: 5,
  expiryInterval: 60,
  expiresAt: 0,
  subscriptions: [['a/#', { qos: 1, nl: true, rap: false, rh: 1, subId: 3 }]],
});

test('writes batch up, commit on flush, and read back after reopening', async () => {
  const d = dir();
  const { store } = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false });
  assert.deepEqual(await store.load(), { retained: [], sessions: [], deliveries: [], awaitingRel: [], wills: [] });
  for (let i = 0; i < 100; i++) store.putRetained(msg(`r/${i}`, `p${i}`));
  store.deleteRetained('r/5');
  store.putSession(session('s1'));
  store.putSession(session('s2'));
  store.deleteSession('s2');
  await store.flush();
  store.putRetained(msg('r/1', 'newer')); // replaces
  await store.close();

  const { store: again, identity } = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false });
  assert.equal(identity.created, false);
  const state = await again.load();
  assert.equal(state.retained.length, 99);
  const r1 = state.retained.find((m) => m.topic === 'r/1')!;
  assert.equal(r1.payload.toString(), 'newer');
  assert.ok(Buffer.isBuffer(r1.payload));
  assert.deepEqual(r1.properties, msg('r/1', '').properties);
  assert.deepEqual(state.sessions, [session('s1')]);
  await again.close();
});

test('flush with nothing queued resolves at once; close is idempotent', async () => {
  const { store } = openSqliteStore({ dataDir: dir(), nodeName: 'vireo@a', force: false });
  await store.flush();
  await Promise.all([store.close(), store.close()]);
});

test('another node name is refused unless forced; a corrupt file is named', async () => {
  const d = dir();
  const { store } = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false });
  await store.close();
  assert.throws(
    () => openSqliteStore({ dataDir: d, nodeName: 'vireo@b', force: false }),
    (e: Error) => e instanceof StoreError && /belongs to node vireo@a, not vireo@b/.test(e.message),
  );
  const forced = openSqliteStore({ dataDir: d, nodeName: 'vireo@b', force: true });
  assert.equal(forced.identity.adoptedFrom, 'vireo@a');
  await forced.store.close();

  const bad = dir();
  await openSqliteStore({ dataDir: bad, nodeName: 'vireo@a', force: false }).store.close();
  writeFileSync(join(bad, 'vireo.db'), Buffer.alloc(4096, 1));
  rmSync(join(bad, 'vireo.db-wal'), { force: true });
  rmSync(join(bad, 'vireo.db-shm'), { force: true });
  assert.throws(
    () => openSqliteStore({ dataDir: bad, nodeName: 'vireo@a', force: false }),
    (e: Error) => e instanceof StoreError && e.message.includes(join(bad, 'vireo.db')),
  );

  writeFileSync(join(bad, 'node.json'), '{not json');
  assert.throws(() => openSqliteStore({ dataDir: bad, nodeName: 'vireo@a', force: false }), /node\.json is corrupt/);
});

test('held messages, their inflight state and QoS 2 ids; a deleted session takes them along', async () => {
  const d = dir();
  const { store } = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false });
  const delivery = (p: string) => ({ msg: msg('q/1', p), qos: 2 as const, retain: false, subIds: [4], share: undefined });
  store.putSession(session('s1'));
  store.putDelivery('s1', 1, 0, 0, delivery('a'));
  store.putDelivery('s1', 2, 7, 1, delivery('b'));
  store.putDelivery('s1', 3, 0, 0, delivery('c'));
  store.setDeliveryState('s1', 2, 7, 2);
  store.deleteDelivery('s1', 1);
  store.putAwaitingRel('s1', 9, 1234);
  store.putAwaitingRel('s1', 10, 1235);
  store.deleteAwaitingRel('s1', 10);
  store.putSession(session('gone'));
  store.putDelivery('gone', 1, 0, 0, delivery('x'));
  store.putAwaitingRel('gone', 1, 1);
  store.deleteSession('gone');
  let acked = -1;
  store.afterCommit((arg, ok) => (acked = ok ? arg : -2), 42);
  assert.equal(acked, -1, 'not before the commit');
  await store.close();
  assert.equal(acked, 42);

  const again = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false }).store;
  const state = await again.load();
  assert.deepEqual(
    state.deliveries.map((x) => [x.clientId, x.seq, x.pid, x.state, x.delivery.msg.payload.toString(), x.delivery.subIds]),
    [
      ['s1', 2, 7, 2, 'b', [4]],
      ['s1', 3, 0, 0, 'c', [4]],
    ],
  );
  assert.deepEqual(state.awaitingRel, [{ clientId: 's1', pid: 9, at: 1234 }]);
  await again.close();
});

test('relaxed: writes wait for the flush interval, unless someone waits for them', async () => {
  const { store } = openSqliteStore({ dataDir: dir(), nodeName: 'vireo@a', force: false, durability: 'relaxed', flushInterval: 60_000 });
  assert.equal(store.durable, false);
  store.putRetained(msg('r', 'x'));
  const t0 = Date.now();
  await store.flush();
  assert.ok(Date.now() - t0 < 5000);
  await store.close();
});

test('records keep every field; rows in the earlier V8 layout still read', async () => {
  const d = dir();
  const full: Message = {
    ...msg('t/full', 'payload'),
    properties: {
      payloadFormatIndicator: false,
      messageExpiryInterval: 3600,
      contentType: 'application/json',
      responseTopic: 'reply/ü',
      correlationData: Buffer.from([0, 1, 2]),
      userProperties: { a: 'x', b: ['y', 'z'] },
    },
    expiresAt: 1_700_000_000_000,
  };
  const bare: Message = { ...msg('t/bare', ''), properties: undefined, from: '', qos: 0, retain: false };
  const { store } = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false });
  store.putRetained(full);
  store.putRetained(bare);
  store.putSession(session('s1'));
  store.putDelivery('s1', 1, 3, 1, { msg: full, qos: 1, retain: true, subIds: [1, 70000], share: 'g/t/#' });
  store.putDelivery('s1', 2, 0, 0, { msg: { ...bare, properties: {} }, qos: 0, retain: false, subIds: undefined, share: undefined });
  await store.close();

  // a row as an earlier version wrote it
  const db = new Database(join(d, 'vireo.db'));
  const old = { topic: 't/old', payload: Buffer.from('old'), qos: 1, retain: true, properties: undefined, from: 'c0', timestamp: 5, expiresAt: 0 };
  db.prepare('insert into retained (topic, msg) values (?, ?)').run('t/old', serialize(old));
  db.prepare('insert into deliveries (clientid, seq, pid, state, d) values (?, ?, ?, ?, ?)').run(
    's1',
    3,
    0,
    0,
    serialize({ msg: old, qos: 1, retain: false, subIds: undefined, share: undefined }),
  );
  db.close();

  const again = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false }).store;
  const state = await again.load();
  const byTopic = new Map(state.retained.map((m) => [m.topic, m]));
  assert.deepEqual({ ...byTopic.get('t/full')!, id: 1 }, full);
  assert.deepEqual({ ...byTopic.get('t/bare')!, id: 1 }, bare);
  assert.deepEqual({ ...byTopic.get('t/old')!, id: 1 }, { ...old, id: 1 });
  assert.deepEqual(
    state.deliveries.map((x) => [x.seq, x.pid, x.state, x.delivery.qos, x.delivery.retain, x.delivery.subIds, x.delivery.share, x.delivery.msg.topic, x.delivery.msg.properties]),
    [
      [1, 3, 1, 1, true, [1, 70000], 'g/t/#', 't/full', full.properties],
      [2, 0, 0, 0, false, undefined, undefined, 't/bare', {}],
      [3, 0, 0, 1, false, undefined, undefined, 't/old', undefined],
    ],
  );
  await again.close();
});

test("subscriptions are rows of their own: put, delete, a session update keeps them; an earlier data dir's list moves to rows", async () => {
  const d = dir();
  const { store } = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false });
  store.putSession(session('s1'));
  store.putSubscription('s1', 'b/+', { qos: 2, nl: false, rap: true, rh: 0, subId: 0, share: undefined });
  store.putSubscription('s1', 'c', { qos: 0, nl: false, rap: false, rh: 0, subId: 0 });
  store.deleteSubscription('s1', 'c');
  store.updateSession({ clientId: 's1', createdAt: 5, expiryInterval: 60, expiresAt: 99 });
  await store.close();

  // a session row as an earlier version wrote it: the subscriptions inside
  const db = new Database(join(d, 'vireo.db'));
  db.prepare('insert into sessions (clientid, state) values (?, ?)').run(
    'old',
    serialize({ ...session('old'), subscriptions: [['x/#', { qos: 1, nl: false, rap: false, rh: 0, subId: 0 }]] }),
  );
  db.close();

  const again = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false }).store;
  const byId = new Map((await again.load()).sessions.map((s) => [s.clientId, s]));
  assert.equal(byId.get('s1')!.expiresAt, 99);
  assert.deepEqual(byId.get('s1')!.subscriptions, [
    ['a/#', { qos: 1, nl: true, rap: false, rh: 1, subId: 3 }],
    ['b/+', { qos: 2, nl: false, rap: true, rh: 0, subId: 0 }],
  ]);
  assert.deepEqual(byId.get('old')!.subscriptions, [['x/#', { qos: 1, nl: false, rap: false, rh: 0, subId: 0 }]]);
  again.updateSession({ clientId: 'old', createdAt: 5, expiryInterval: 60, expiresAt: 0 });
  await again.close();
  const third = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false }).store;
  const old = (await third.load()).sessions.find((s) => s.clientId === 'old')!;
  assert.deepEqual(
    old.subscriptions.map(([f]) => f),
    ['x/#'],
    'moved to rows: a session update keeps them',
  );
  third.deleteSession('old');
  await third.close();
  const fourth = openSqliteStore({ dataDir: d, nodeName: 'vireo@a', force: false }).store;
  await fourth.load();
  await fourth.close();
  const check = new Database(join(d, 'vireo.db'), { readonly: true });
  assert.equal((check.prepare("select count(*) as n from subscriptions where clientid = 'old'").get() as { n: number }).n, 0);
  check.close();
});

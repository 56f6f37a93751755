/**
 * What the store writes for a session's subscriptions and at a takeover, seen in the store
 * file: SUBSCRIBE writes one row (not the session's whole list again), and a session taken
 * over by another node leaves this node's store at phase 1 (a crash before phase 2 must not
 * bring a stale copy back at restart).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { SqliteStore } from '@vireo/store';
import { openSqliteStore } from '@vireo/store';
import { connect, endAll, startBroker } from './harness.js';

const root = mkdtempSync(join(tmpdir(), 'vireo-rows-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The store, counting the subscription entries each write carries. */
function countingStore(dataDir: string): { store: SqliteStore; written: () => number } {
  const { store } = openSqliteStore({ dataDir, nodeName: 'vireo@test', force: false });
  let n = 0;
  const putSession = store.putSession.bind(store);
  store.putSession = (s) => {
    n += s.subscriptions.length;
    putSession(s);
  };
  const putSubscription = store.putSubscription.bind(store);
  store.putSubscription = (c, f, o) => {
    n++;
    putSubscription(c, f, o);
  };
  return { store, written: () => n };
}

function rows(dataDir: string, sql: string): unknown[] {
  const db = new Database(join(dataDir, 'vireo.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

test('subscribing one filter at a time writes one row each; all survive a restart, an unsubscribed one does not', { timeout: 30_000 }, async () => {
  const dataDir = join(root, 'subs');
  const { store, written } = countingStore(dataDir);
  const b = await startBroker({ store });
  const c = await connect(b.url, { protocolVersion: 5, clientId: 'many', clean: false, properties: { sessionExpiryInterval: 3600 } });
  const N = 300;
  for (let i = 0; i < N; i++) await c.subscribeAsync(`s/${i}`, { qos: 1 });
  await c.unsubscribeAsync('s/7');
  // rewriting the list on every SUBSCRIBE would write N·(N+1)/2 = 45 150 entries
  assert.ok(written() <= N + 1, `subscription entries written: ${written()}`);
  await endAll(c);
  await b.close();

  const again = openSqliteStore({ dataDir, nodeName: 'vireo@test', force: false }).store;
  const { sessions } = await again.load();
  await again.close();
  const filters = sessions.find((s) => s.clientId === 'many')!.subscriptions.map(([f]) => f);
  assert.equal(filters.length, N - 1);
  assert.ok(filters.includes('s/0') && filters.includes(`s/${N - 1}`) && !filters.includes('s/7'));
});

test("takeover phase 1 deletes the session from the old node's store; a graceful stop does not write it back", { timeout: 30_000 }, async () => {
  const dataDir = join(root, 'takeover');
  const { store } = openSqliteStore({ dataDir, nodeName: 'vireo@test', force: false });
  const b = await startBroker({ store });
  const sub = await connect(b.url, { protocolVersion: 5, clientId: 'mover', clean: false, properties: { sessionExpiryInterval: 3600 } });
  await sub.subscribeAsync('m/#', { qos: 1 });
  await endAll(sub);
  const pub = await connect(b.url, { protocolVersion: 5, clientId: 'pub' });
  await pub.publishAsync('m/1', 'held', { qos: 1 }); // durable: on disk when PUBACKed
  await endAll(pub);
  const count = (table: string) => (rows(dataDir, `select count(*) as n from ${table} where clientid = 'mover'`)[0] as { n: number }).n;
  assert.deepEqual([count('sessions'), count('subscriptions'), count('deliveries')], [1, 1, 1]);

  const state = b.broker.takeoverBegin('mover', false); // what a cluster peer asks at phase 1
  assert.equal(state?.mqueue.length, 1, 'the session and its message go to the new node');
  await store.flush();
  // a crash here (before phase 2) restarts without a stale copy
  assert.deepEqual([count('sessions'), count('subscriptions'), count('deliveries')], [0, 0, 0]);
  await b.close();
  assert.deepEqual([count('sessions'), count('subscriptions'), count('deliveries')], [0, 0, 0]);
});

/**
 * Expired messages leave the store in the background (retainer.msg_clear_interval), not only
 * when a subscription or a reconnect finds them, nor only at the next start.
 */
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { killAllVireo, spawnVireo } from './vireo-process.js';

afterEach(() => killAllVireo());
const root = mkdtempSync(join(tmpdir(), 'vireo-sweep-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** What the running node's store file holds (read through SQLite, as an operator would). */
function stored(dataDir: string): { retained: string[]; queued: number } {
  const db = new Database(join(dataDir, 'vireo.db'), { readonly: true, fileMustExist: true });
  try {
    const retained = (db.prepare('select topic from retained order by topic').all() as { topic: string }[]).map((r) => r.topic);
    const { n } = db.prepare("select count(*) as n from deliveries where clientid = 'sleeper'").get() as { n: number };
    return { retained, queued: n };
  } finally {
    db.close();
  }
}

test('expired retained and queued messages are deleted from the store file by the background sweep, without a restart', { timeout: 120_000 }, async () => {
  const dataDir = join(root, 'data');
  const port = await freePort();
  const vireo = spawnVireo({
    env: {
      VIREO_NODE__DATA_DIR: dataDir,
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_RETAINER__MSG_CLEAR_INTERVAL: '1s',
    },
  });
  await vireo.waitForLog('started');
  const url = `mqtt://127.0.0.1:${port}`;
  // an offline persistent session, to hold queued messages
  const sleeper = await connect(url, { protocolVersion: 5, clientId: 'sleeper', clean: false, properties: { sessionExpiryInterval: 3600 } });
  await sleeper.subscribeAsync('q/#', { qos: 1 });
  await endAll(sleeper);
  const pub = await connect(url, { protocolVersion: 5, clientId: 'pub' });
  // durable mode: each PUBACK comes once the write is on disk
  await pub.publishAsync('r/short', 'x', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('r/kept', 'x', { qos: 1, retain: true });
  await pub.publishAsync('q/short', 'x', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('q/kept', 'x', { qos: 1 });
  await endAll(pub);
  assert.deepEqual(stored(dataDir), { retained: ['r/kept', 'r/short'], queued: 2 });

  // nobody subscribes to r/short nor reconnects as sleeper: only the sweep can delete them
  let s = stored(dataDir);
  await waitFor(() => (s = stored(dataDir)).retained.length <= 1 && s.queued <= 1, 'the sweep to delete the expired rows', 15_000, 200).catch(() => undefined);
  assert.deepEqual(s, { retained: ['r/kept'], queued: 1 });
  assert.equal(vireo.child.exitCode, null, 'the node kept running');
});

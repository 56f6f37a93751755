/**
 * The store does not grow without bound: 10 000 short-lived persistent sessions (two rounds of
 * 5 000, each with a subscription and a queued message) come, expire and are deleted; the data
 * dir's size after the second round stays where the first left it, and a restart finds none.
 */
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { rawConnect } from './raw-client.js';
import { killAllVireo, spawnVireo, type VireoProcess } from './vireo-process.js';

afterEach(() => killAllVireo());
const root = mkdtempSync(join(tmpdir(), 'vireo-churn-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const PER_ROUND = 5000;

async function startNode(dataDir: string, port: number): Promise<VireoProcess> {
  const vireo = spawnVireo({
    env: {
      VIREO_NODE__NAME: 'vireo@churn',
      VIREO_NODE__DATA_DIR: dataDir,
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_SYS_TOPICS__SYS_MSG_INTERVAL: 'disabled',
      VIREO_SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_CONNECTED: 'false',
      VIREO_SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_DISCONNECTED: 'false',
    },
  });
  await vireo.waitForLog('started', 15_000);
  return vireo;
}

function dataSize(dataDir: string): number {
  let n = 0;
  for (const f of ['vireo.db', 'vireo.db-wal']) {
    try {
      n += statSync(join(dataDir, f)).size;
    } catch {
      // no WAL file right after a checkpoint
    }
  }
  return n;
}

/** Sessions with a 1 s expiry: connect, subscribe, leave. */
async function churn(port: number, round: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < PER_ROUND) {
      const i = next++;
      const { client } = await rawConnect(port, { clientId: `churn-${round}-${i}`, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 1 } });
      client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `churn/${i}`, qos: 1 }] });
      await client.next('suback');
      client.send({ cmd: 'disconnect' });
      client.end();
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
}

test('10 000 short-lived persistent sessions: deleted when they expire, the store does not grow', { timeout: 180_000 }, async (t) => {
  const dataDir = join(root, 'data');
  const port = await freePort();
  let node = await startNode(dataDir, port);
  await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'probe' }).then((c) => endAll(c));

  const sizes: number[] = [];
  for (let round = 1; round <= 2; round++) {
    await churn(port, round);
    // one queued message per session while it is offline
    const pub = await connect(`mqtt://127.0.0.1:${port}`, { clientId: `churn-pub-${round}` });
    for (let i = 0; i < PER_ROUND; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => pub.publishAsync(`churn/${i + j}`, 'x', { qos: 1 })));
    await endAll(pub);
    // every session of the round expired (1 s after it left; later on a loaded machine), then
    // the deletes committed: a retained change's PUBACK comes after its commit, and commits are
    // in order (durability: durable)
    const expired = () =>
      node
        .stdout()
        .split('\n')
        .filter((l) => l.includes('"msg":"Session expired"') && l.includes(`"churn-${round}-`)).length;
    await waitFor(() => expired() >= PER_ROUND, `the ${PER_ROUND} sessions of round ${round} to expire`, 60_000, 250).catch((err: Error) => {
      throw new Error(`${err.message} (${expired()} did)`);
    });
    const marker = await connect(`mqtt://127.0.0.1:${port}`, { clientId: `churn-marker-${round}` });
    await marker.publishAsync('marker/committed', String(round), { qos: 1, retain: true });
    await endAll(marker);
    sizes.push(dataSize(dataDir));
  }
  t.diagnostic(`data dir after round 1: ${sizes[0]} bytes, after round 2: ${sizes[1]} bytes`);
  assert.ok(sizes[1]! <= sizes[0]! * 1.25 + 256 * 1024, `the store grew from ${sizes[0]} to ${sizes[1]} bytes`);
  assert.ok(sizes[1]! < 32 * 1024 * 1024, `the store holds ${sizes[1]} bytes`);

  node.kill('SIGTERM');
  await node.waitExit();
  node = spawnVireo({
    env: { VIREO_NODE__NAME: 'vireo@churn', VIREO_NODE__DATA_DIR: dataDir, VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`, VIREO_LISTENERS__WS__DEFAULT__BIND: '0' },
  });
  const restored = await node.waitForLog('Restored', 15_000);
  assert.equal(restored.sessions, 0);
  node.kill('SIGTERM');
  await node.waitExit();
});

/**
 * An embedded broker's close() gives back everything it opened: after a busy life (TCP and
 * WebSocket listeners, persistent sessions with expiry, a delayed will, QoS 2 in flight, shared
 * groups, retained messages with expiry, $SYS publishing, the SQLite store and its writer
 * thread), the process holds no more timers, sockets, servers or threads than before it. An
 * application that embeds Vireo must be able to stop it and exit without process.exit().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '@vireo/store';
import { connect, endAll, freePort, startBroker, waitFor } from './harness.js';

/** The resources keeping the event loop alive, by kind, as counts. */
function held(): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of process.getActiveResourcesInfo()) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

function more(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of after) if (n > (before.get(k) ?? 0)) out[k] = n - (before.get(k) ?? 0);
  return out;
}

test('broker.close() leaves no timer, socket, server or thread open', { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-handles-'));
  const before = held();
  const wsPort = await freePort();
  const tcpPort = await freePort();
  const { store } = openSqliteStore({ dataDir, nodeName: 'vireo@test', force: false });
  const tb = await startBroker({
    store,
    sys: { sysMsgInterval: 200 },
    listeners: [
      { type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port: tcpPort, maxConnections: 1000 },
      { type: 'ws', name: 'ws:default', host: '127.0.0.1', port: wsPort, path: '/mqtt', maxConnections: 1000 },
    ],
  });
  const url = `mqtt://127.0.0.1:${tcpPort}`;
  const persistent = { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 3600 } };
  const sub = await connect(url, { ...persistent, clientId: 'h-sub' });
  const shared = await connect(`ws://127.0.0.1:${wsPort}/mqtt`, { protocolVersion: 5, clientId: 'h-ws' });
  const willing = await connect(url, {
    ...persistent,
    clientId: 'h-will',
    will: { topic: 'h/will', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 600 } },
  });
  const pub = await connect(url, { protocolVersion: 5, clientId: 'h-pub' });
  try {
    await sub.subscribeAsync(['h/#', '$SYS/#'], { qos: 2 });
    await shared.subscribeAsync('$share/g/h/#', { qos: 1 });
    let n = 0;
    sub.on('message', (t) => t.startsWith('h/') && n++);
    await pub.publishAsync('h/r', 'kept', { qos: 1, retain: true, properties: { messageExpiryInterval: 600 } });
    for (let i = 0; i < 20; i++) await pub.publishAsync(`h/${i}`, `m${i}`, { qos: 2 });
    await waitFor(() => n >= 21, 'the messages to the subscriber');
    // a will waiting for its delay, a session waiting for its expiry
    willing.stream.destroy();
    await waitFor(() => tb.broker.connection('h-will') === undefined, 'the will client gone');
    sub.end(true);
    await waitFor(() => tb.broker.connection('h-sub') === undefined, 'the subscriber gone');
    await pub.publishAsync('h/queued', 'for later', { qos: 1 });
  } finally {
    await endAll(sub, shared, willing, pub);
  }
  await tb.close();
  // closing is done when close() resolves; sockets and threads report their end a turn later
  let extra: Record<string, number> = {};
  await waitFor(() => Object.keys((extra = more(held(), before))).length === 0, 'the handles to close', 5000).catch(() => undefined);
  assert.deepEqual(extra, {}, 'resources still open after broker.close()');
  rmSync(dataDir, { recursive: true, force: true });
});

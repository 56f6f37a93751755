/**
 * The receiving side of a session moved from another node (broker/cm/takeover.ts), on a
 * real broker driven through its ClusterHost side as the cluster drives it: the session
 * arrives (`pushInstall`), messages are routed to it directly meanwhile (`dispatchLocal`, held
 * back), then the old node's stand-in queue arrives (`takeoverRest`). The client that then
 * resumes the session gets each message once, in order: the session's queue, the stand-in's,
 * then the direct ones that neither had.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Delivery, Message, SessionState } from '@vireo/broker';
import mqtt from 'mqtt';
import { endAll, quietFor, waitFor, withBroker } from './harness.js';

const NOW = Date.now();

function message(seq: number): Message {
  // as a forward from another node brings it: the publisher and publish time of the origin
  return { id: 1000 + seq, topic: 'mv/t', payload: Buffer.from(String(seq)), qos: 1, retain: false, properties: undefined, from: 'mv-pub', timestamp: NOW + seq, expiresAt: 0 };
}

function delivery(seq: number): Delivery {
  return { msg: message(seq), qos: 1, retain: false, subIds: undefined, share: undefined };
}

function state(clientId: string, queued: number[]): SessionState {
  return {
    clientId,
    createdAt: NOW,
    expiryInterval: 600,
    subscriptions: [['mv/t', { qos: 1, nl: false, rap: false, rh: 0, subId: 0 }]],
    inflight: [],
    mqueue: queued.map(delivery),
    awaitingRel: [],
    nextPacketId: 1,
  };
}

test('a pushed session: its queue, the stand-in queue, then the direct messages neither had; each once, in order', async () => {
  await withBroker({}, async ({ broker, url }, clients) => {
    // 1–3 were queued when the push began, 4–6 reached the stand-in; 3 and 4 come directly
    // before the stand-in queue (3's direct copy was slower than the push), 5–8 after it
    broker.pushInstall(state('mv-dev', [1, 2, 3]));
    for (const seq of [3, 4]) broker.dispatchLocal(message(seq), undefined);
    broker.takeoverRest('mv-dev', [delivery(4), delivery(5), delivery(6)]);
    for (const seq of [5, 6, 7, 8]) broker.dispatchLocal(message(seq), undefined);

    const got: number[] = [];
    const c = mqtt.connect(url, { clientId: 'mv-dev', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 0 });
    clients.push(c);
    c.on('message', (_t, p) => got.push(Number(p.toString())));
    const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      c.once('connect', resolve);
      c.once('error', reject);
    });
    assert.equal(connack.sessionPresent, true, 'the client finds the moved session');
    await waitFor(() => got.includes(8), `the last message (got ${got.join(',')})`, 5000);
    await quietFor(200, () => got.length === 8, 'no copy after the last message');
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8]);
    await endAll(c);
  });
});

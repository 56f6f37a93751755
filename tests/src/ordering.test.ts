/**
 * Ordering: 1 000 messages from one publisher on one topic reach each subscriber in the
 * order sent, at QoS 0, 1 and 2, for v4 and v5 subscribers, including one whose small
 * Receive Maximum makes the broker queue most of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startBroker, connect, endAll } from './harness.js';
import { Inbox } from './observe.js';

const N = 1000;
/** Unacknowledged QoS 1/2 PUBLISHes the publisher keeps in flight: under the broker's Receive Maximum, as a conforming client does. */
const WINDOW = 50;

for (const qos of [0, 1, 2] as const) {
  test(`QoS ${qos}: ${N} messages from one publisher on one topic arrive complete and in order`, { timeout: 60_000 }, async () => {
    const tb = await startBroker({ mqtt: { maxMqueueLen: 2 * N } });
    const clients: MqttClient[] = [];
    try {
      const subs = [
        await connect(tb.url, { protocolVersion: 4, clientId: 'v4' }),
        await connect(tb.url, { protocolVersion: 5, clientId: 'v5' }),
        await connect(tb.url, { protocolVersion: 5, clientId: 'v5-slow', properties: { receiveMaximum: 3 } }),
      ];
      clients.push(...subs);
      for (const s of subs) await s.subscribeAsync('order/t', { qos });
      const boxes = subs.map((s) => new Inbox(s));
      const pub = await connect(tb.url, { protocolVersion: 5, clientId: 'pub' });
      clients.push(pub);
      assert.ok(WINDOW <= (pub.serverProperties?.receiveMaximum ?? 65535));

      const pending = new Set<Promise<unknown>>();
      for (let i = 0; i < N; i++) {
        const p = pub.publishAsync('order/t', String(i), { qos });
        pending.add(p);
        void p.finally(() => pending.delete(p));
        if (pending.size >= WINDOW) await Promise.race(pending);
      }
      await Promise.all(pending);

      const want = Array.from({ length: N }, (_, i) => String(i));
      for (const [i, b] of boxes.entries()) {
        await b.until(N, 30_000);
        const got = b.payloads;
        const firstBad = got.findIndex((p, k) => p !== want[k]);
        assert.equal(firstBad, -1, `${subs[i].options.clientId}: out of order at ${firstBad}: ${got.slice(Math.max(0, firstBad - 2), firstBad + 3)}`);
        assert.equal(got.length, N);
        assert.ok(b.msgs.every((m) => m.packet.qos === qos && m.topic === 'order/t'));
      }
    } finally {
      await endAll(...clients);
      await tb.close();
    }
  });
}

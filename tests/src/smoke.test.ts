import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, connect, collect, endAll } from './harness.js';

test('QoS 0/1/2 round trip at v4 and v5, retained on subscribe', async () => {
  const tb = await startBroker();
  try {
    for (const protocolVersion of [4, 5] as const) {
      const sub = await connect(tb.url, { protocolVersion, clientId: `sub${protocolVersion}` });
      const pub = await connect(tb.url, { protocolVersion, clientId: `pub${protocolVersion}` });
      await sub.subscribeAsync(`smoke/${protocolVersion}/#`, { qos: 2 });
      const got = collect(sub, 3);
      for (const qos of [0, 1, 2] as const) await pub.publishAsync(`smoke/${protocolVersion}/q${qos}`, `m${qos}`, { qos });
      const msgs = await got;
      assert.deepEqual(msgs.map((m) => [m.topic, m.payload, m.packet.qos]).sort(), [
        [`smoke/${protocolVersion}/q0`, 'm0', 0],
        [`smoke/${protocolVersion}/q1`, 'm1', 1],
        [`smoke/${protocolVersion}/q2`, 'm2', 2],
      ]);
      await pub.publishAsync(`ret/${protocolVersion}`, 'kept', { qos: 1, retain: true });
      const late = await connect(tb.url, { protocolVersion });
      const r = collect(late, 1);
      await late.subscribeAsync(`ret/${protocolVersion}`, { qos: 1 });
      const [m] = await r;
      assert.equal(m.payload, 'kept');
      assert.equal(m.packet.retain, true);
      await endAll(sub, pub, late);
    }
  } finally {
    await tb.close();
  }
});

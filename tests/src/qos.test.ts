/**
 * QoS 0/1/2 both ways with MQTT.js at v4 and v5 (full handshakes, downgrade to the
 * subscription's QoS, v5 "no matching subscribers"), and the broker's side of incoming
 * QoS 2 with a raw client: duplicates before PUBREL, max_awaiting_rel, await_rel_timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient, IPublishPacket, Packet } from 'mqtt';
import { startBroker, connect, endAll, waitFor, withBroker, quietFor } from './harness.js';
import { Inbox, Wire, memoryLogger } from './observe.js';
import { rawConnect } from './raw-client.js';
import type { RawClient } from './raw-client.js';

const T = { timeout: 20_000 };
const QOS = [0, 1, 2] as const;

for (const pubVersion of [4, 5] as const) {
  test(`v${pubVersion} publisher: QoS 0/1/2 to v4 and v5 subscribers at QoS 0/1/2, downgraded to the subscription's QoS, with full handshakes`, T, () =>
    withBroker({}, async (tb) => {
      const subs: { client: MqttClient; version: 4 | 5; qos: 0 | 1 | 2; inbox: Inbox; wire: Wire }[] = [];
      let pub: MqttClient | undefined;
      try {
        for (const version of [4, 5] as const) {
          for (const qos of QOS) {
            const client = await connect(tb.url, { protocolVersion: version, clientId: `sub-v${version}-q${qos}` });
            const wire = new Wire(client);
            const granted = await client.subscribeAsync('hs/#', { qos });
            assert.equal(granted[0].qos, qos, 'SUBACK grants the requested QoS');
            subs.push({ client, version, qos, inbox: new Inbox(client), wire });
          }
        }
        pub = await connect(tb.url, { protocolVersion: pubVersion, clientId: 'pub' });
        const pubWire = new Wire(pub);
        for (const qos of QOS) await pub.publishAsync(`hs/q${qos}`, `m${qos}`, { qos });

        // publisher side: QoS 1 → PUBACK; QoS 2 → PUBREC, PUBREL, PUBCOMP, all on the publish's packet id
        const sent = pubWire.out.filter((p): p is IPublishPacket => p.cmd === 'publish');
        assert.deepEqual(
          sent.map((p) => p.qos),
          [0, 1, 2],
        );
        const id1 = sent[1].messageId!;
        const id2 = sent[2].messageId!;
        const flow = (w: Wire, id: number) => [
          ...w.in.filter((p) => p.cmd !== 'publish' && (p as { messageId?: number }).messageId === id).map((p) => `in:${p.cmd}`),
          ...w.out.filter((p) => p.cmd !== 'publish' && (p as { messageId?: number }).messageId === id).map((p) => `out:${p.cmd}`),
        ];
        assert.deepEqual(flow(pubWire, id1), ['in:puback']);
        await waitFor(() => pubWire.out.some((p) => p.cmd === 'pubrel' && p.messageId === id2), 'PUBREL');
        assert.deepEqual(
          pubWire.in
            .concat(pubWire.out)
            .filter((p) => 'messageId' in p && p.messageId === id2 && p.cmd !== 'publish')
            .map((p) => p.cmd)
            .sort(),
          ['pubcomp', 'pubrec', 'pubrel'],
        );

        for (const s of subs) {
          const got = await s.inbox.until(3);
          await waitFor(() => s.wire.out.filter((p) => p.cmd === 'pubcomp').length >= (s.qos === 2 ? 1 : 0), `PUBCOMP from ${s.client.options.clientId}`);
          const byTopic = Object.fromEntries(got.map((m) => [m.topic, m.packet.qos]));
          assert.deepEqual(
            byTopic,
            { 'hs/q0': 0, 'hs/q1': Math.min(1, s.qos), 'hs/q2': Math.min(2, s.qos) },
            `v${s.version} subscriber at QoS ${s.qos}: each message at the lower of the two QoS`,
          );
          assert.deepEqual(got.map((m) => m.payload).sort(), ['m0', 'm1', 'm2'], 'each message exactly once');
          // the subscriber's side of each handshake, on the packet id the broker chose
          for (const m of got) {
            const id = m.packet.messageId;
            const acks = s.wire.in
              .concat(s.wire.out)
              .filter((p) => p.cmd !== 'publish' && 'messageId' in p && p.messageId === id && id !== undefined)
              .map((p) => p.cmd)
              .sort();
            const want = m.packet.qos === 0 ? [] : m.packet.qos === 1 ? ['puback'] : ['pubcomp', 'pubrec', 'pubrel'];
            assert.deepEqual(acks, want, `handshake of a QoS ${m.packet.qos} delivery`);
            if (m.packet.qos > 0) assert.ok(id! >= 1 && id! <= 65535, 'a QoS>0 PUBLISH carries a packet id');
          }
        }
        // nothing left unacknowledged in the broker once the handshakes are done
        for (const s of subs) {
          await waitFor(() => tb.broker.session(s.client.options.clientId!)?.inflight.size === 0, 'empty inflight');
        }
      } finally {
        await endAll(pub, ...subs.map((s) => s.client));
      }
    }),
  );
}

test('v5: PUBACK/PUBREC carry 0x10 "no matching subscribers" when nobody subscribes, success otherwise; v4 acks plainly', T, () =>
  withBroker({}, async (tb) => {
    let p5: MqttClient | undefined;
    let p4: MqttClient | undefined;
    let sub: MqttClient | undefined;
    try {
      p5 = await connect(tb.url, { protocolVersion: 5, clientId: 'p5' });
      p4 = await connect(tb.url, { protocolVersion: 4, clientId: 'p4' });
      const w5 = new Wire(p5);
      const w4 = new Wire(p4);
      await p5.publishAsync('nobody/here', 'x', { qos: 1 });
      await p5.publishAsync('nobody/here', 'x', { qos: 2 });
      await p4.publishAsync('nobody/here', 'x', { qos: 1 });
      await p4.publishAsync('nobody/here', 'x', { qos: 2 });
      const acks = (w: Wire) => w.in.filter((p) => p.cmd === 'puback' || p.cmd === 'pubrec') as { cmd: string; reasonCode?: number }[];
      assert.deepEqual(
        acks(w5).map((p) => [p.cmd, p.reasonCode]),
        [
          ['puback', 0x10],
          ['pubrec', 0x10],
        ],
      );
      assert.deepEqual(
        acks(w4).map((p) => [p.cmd, p.reasonCode ?? 0]),
        [
          ['puback', 0],
          ['pubrec', 0],
        ],
      );
      // the QoS 2 flow completes normally after a 0x10 PUBREC
      assert.ok(w5.in.some((p) => p.cmd === 'pubcomp'));

      sub = await connect(tb.url, { protocolVersion: 5, clientId: 'sub' });
      await sub.subscribeAsync('somebody/+', { qos: 2 });
      const n = w5.in.length;
      await p5.publishAsync('somebody/here', 'x', { qos: 1 });
      await p5.publishAsync('somebody/here', 'x', { qos: 2 });
      const later = acks({ in: w5.in.slice(n) } as Wire);
      assert.deepEqual(
        later.map((p) => [p.cmd, p.reasonCode ?? 0]),
        [
          ['puback', 0],
          ['pubrec', 0],
        ],
      );
    } finally {
      await endAll(p5, p4, sub);
    }
  }),
);

function publish2(c: RawClient, id: number, topic: string, payload: string, dup = false): void {
  c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 2, messageId: id, retain: false, dup });
}

const idOf = (id: number) => (p: Packet) => 'messageId' in p && p.messageId === id;

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: a QoS 2 PUBLISH resent with the same packet id before PUBREL is delivered once`, T, () =>
    withBroker({}, async (tb) => {
      let raw: RawClient | undefined;
      let sub: MqttClient | undefined;
      try {
        sub = await connect(tb.url, { protocolVersion, clientId: 'sub' });
        await sub.subscribeAsync('dup/t', { qos: 2 });
        const inbox = new Inbox(sub);
        ({ client: raw } = await rawConnect(tb.port, { protocolVersion, clientId: 'rawpub' }));

        publish2(raw, 10, 'dup/t', 'first');
        const rec1 = await raw.next('pubrec');
        assert.equal((rec1 as { messageId: number }).messageId, 10);
        publish2(raw, 10, 'dup/t', 'first', true);
        const rec2 = await raw.next('pubrec');
        assert.equal((rec2 as { messageId: number }).messageId, 10, 'the duplicate is acknowledged again');
        publish2(raw, 10, 'dup/t', 'first', true);
        await raw.next('pubrec');
        raw.send({ cmd: 'pubrel', messageId: 10 });
        const comp = (await raw.next('pubcomp')) as { messageId: number; reasonCode?: number };
        assert.equal(comp.messageId, 10);
        assert.equal(comp.reasonCode ?? 0, 0);

        // after PUBCOMP the id is free again: a new message with it is a new message
        publish2(raw, 10, 'dup/t', 'second');
        await raw.next('pubrec');
        raw.send({ cmd: 'pubrel', messageId: 10 });
        await raw.next('pubcomp');
        raw.send({ cmd: 'publish', topic: 'dup/t', payload: Buffer.from('end'), qos: 0, retain: false, dup: false });
        await inbox.waitPayload('end');
        assert.deepEqual(inbox.payloads, ['first', 'second', 'end']);
      } finally {
        raw?.destroy();
        await endAll(sub);
      }
    }),
  );
}

test('v5: max_awaiting_rel is the CONNACK Receive Maximum; one more unreleased QoS 2 PUBLISH gets DISCONNECT 0x93', T, () =>
  withBroker({ mqtt: { maxAwaitingRel: 2 } }, async (tb) => {
    let raw: RawClient | undefined;
    let sub: MqttClient | undefined;
    try {
      sub = await connect(tb.url, { protocolVersion: 5, clientId: 'sub' });
      await sub.subscribeAsync('rel/#', { qos: 2 });
      const inbox = new Inbox(sub);
      const r = await rawConnect(tb.port, { protocolVersion: 5, clientId: 'rawpub' });
      raw = r.client;
      assert.equal(r.connack.properties?.receiveMaximum, 2, 'CONNACK Receive Maximum = max_awaiting_rel');
      publish2(raw, 1, 'rel/1', 'one');
      publish2(raw, 2, 'rel/2', 'two');
      await raw.next(idOf(1));
      await raw.next(idOf(2));
      publish2(raw, 3, 'rel/3', 'three');
      const d = (await raw.next('disconnect')) as { reasonCode?: number };
      assert.equal(d.reasonCode, 0x93);
      await raw.waitClose();
      assert.ok(!raw.all.some((p) => idOf(3)(p)), 'no PUBREC for the one over the limit');
      await inbox.until(2);
      await quietFor(100, () => inbox.msgs.length === 2, 'the third was not published');
      assert.deepEqual(inbox.payloads.sort(), ['one', 'two'], 'the third was not published');
    } finally {
      raw?.destroy();
      await endAll(sub);
    }
  }),
);

test('v4: past max_awaiting_rel a QoS 2 PUBLISH is dropped and logged; the connection goes on', T, async () => {
  const log = memoryLogger();
  const tb = await startBroker({ mqtt: { maxAwaitingRel: 2 }, logger: log.logger });
  let raw: RawClient | undefined;
  let sub: MqttClient | undefined;
  try {
    sub = await connect(tb.url, { protocolVersion: 4, clientId: 'sub' });
    await sub.subscribeAsync('rel/#', { qos: 2 });
    const inbox = new Inbox(sub);
    ({ client: raw } = await rawConnect(tb.port, { protocolVersion: 4, clientId: 'rawpub' }));
    publish2(raw, 1, 'rel/1', 'one');
    publish2(raw, 2, 'rel/2', 'two');
    publish2(raw, 3, 'rel/3', 'three');
    await raw.next(idOf(1));
    await raw.next(idOf(2));
    await waitFor(() => log.has('Dropped qos2 packet due to too many awaiting_rel'), 'the log line');
    // releasing one makes room again
    raw.send({ cmd: 'pubrel', messageId: 1 });
    await raw.next('pubcomp');
    publish2(raw, 4, 'rel/4', 'four');
    await raw.next(idOf(4));
    raw.send({ cmd: 'pubrel', messageId: 2 });
    raw.send({ cmd: 'pubrel', messageId: 4 });
    await raw.next(idOf(2));
    await raw.next(idOf(4));
    assert.ok(!raw.all.some(idOf(3)), 'no PUBREC for the dropped one');
    assert.equal(raw.closed, false);
    await inbox.until(3);
    raw.send({ cmd: 'publish', topic: 'rel/end', payload: Buffer.from('end'), qos: 0, retain: false, dup: false });
    await inbox.waitPayload('end');
    assert.deepEqual(inbox.payloads, ['one', 'two', 'four', 'end']);
  } finally {
    raw?.destroy();
    await endAll(sub);
    await tb.close();
  }
});

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: await_rel_timeout forgets a QoS 2 PUBLISH never released, freeing its slot`, T, async () => {
    const log = memoryLogger();
    const tb = await startBroker({ mqtt: { maxAwaitingRel: 1, awaitRelTimeout: 800 }, logger: log.logger });
    let raw: RawClient | undefined;
    let sub: MqttClient | undefined;
    try {
      sub = await connect(tb.url, { protocolVersion, clientId: 'sub' });
      await sub.subscribeAsync('rel/#', { qos: 2 });
      const inbox = new Inbox(sub);
      ({ client: raw } = await rawConnect(tb.port, { protocolVersion, clientId: 'rawpub' }));
      const t0 = Date.now();
      publish2(raw, 1, 'rel/1', 'one');
      await raw.next(idOf(1));
      await waitFor(() => log.has('Dropped qos2 packet due to await_rel_timeout'), 'await_rel_timeout log line', 5000);
      assert.ok(Date.now() - t0 >= 800, 'not before the timeout');
      const line = log.lines.find((l) => l.msg === 'Dropped qos2 packet due to await_rel_timeout')!;
      assert.equal(line.clientid, 'rawpub');
      assert.equal(line.packet_id, 1);
      // the slot is free: with max_awaiting_rel 1 a new QoS 2 PUBLISH is accepted, not refused
      publish2(raw, 2, 'rel/2', 'two');
      await raw.next(idOf(2));
      // a late PUBREL for the forgotten id: v5 says "packet identifier not found"
      raw.send({ cmd: 'pubrel', messageId: 1 });
      const comp1 = (await raw.next(idOf(1))) as { cmd: string; reasonCode?: number };
      assert.equal(comp1.cmd, 'pubcomp');
      assert.equal(comp1.reasonCode ?? 0, protocolVersion === 5 ? 0x92 : 0);
      raw.send({ cmd: 'pubrel', messageId: 2 });
      const comp2 = (await raw.next(idOf(2))) as { cmd: string; reasonCode?: number };
      assert.equal(comp2.reasonCode ?? 0, 0);
      assert.equal(raw.closed, false);
      await inbox.until(2);
      assert.deepEqual(inbox.payloads, ['one', 'two'], 'both were published once');
    } finally {
      raw?.destroy();
      await endAll(sub);
      await tb.close();
    }
  });
}

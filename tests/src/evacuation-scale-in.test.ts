/**
 * The scale-in the issue describes, on real processes: three nodes behind a load balancer
 * that honours availability_check (lb-proxy.ts), forty persistent sessions on node C (half
 * online, half offline with QoS 1 messages queued, 3.1.1 and 5), a QoS 1 stream and a QoS 2
 * stream flowing from node A, then SIGTERM to C with `node.evacuate_on_shutdown`. Every
 * client reconnects through the load balancer and finds its session (Session Present) and
 * every message in order: QoS 1 exactly as published (a redelivery flagged DUP of a message
 * it already had is what MQTT allows and is the only repeat accepted), QoS 2 exactly once.
 * C exits 0 and the others show it `stopped`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { connect, endAll, sleep, waitFor } from './harness.js';
import { syncRoutes } from './cluster-nodes.js';
import { startLbProxy, type LbProxy } from './lb-proxy.js';
import { api, availability, startEvacCluster, waitClustered, type EvacCluster } from './evacuation-nodes.js';

interface Got {
  seq: number;
  dup: boolean;
}

interface Device {
  id: string;
  v5: boolean;
  online: boolean;
  qos2: boolean;
  stream: Got[];
  q2: Got[];
  client?: MqttClient;
  /** Shared by every connection of the device, as a real client keeps its QoS 2 state. */
  incomingStore: mqtt.Store;
  sessionPresent?: boolean;
  /** ms from losing the connection to the CONNACK on another node. */
  reconnectMs?: number;
}

function options(d: Device): IClientOptions {
  return {
    clientId: d.id,
    protocolVersion: d.v5 ? 5 : 4,
    clean: false,
    ...(d.v5 ? { properties: { sessionExpiryInterval: 600 } } : {}),
    incomingStore: d.incomingStore,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  };
}

/** Connects `d` to `port`, recording what it receives; resolves with the CONNACK (rejects on a refusal). */
function attach(d: Device, port: number): Promise<mqtt.IConnackPacket> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, options(d));
  client.on('message', (topic, payload, packet) => {
    const got = { seq: Number(payload.toString()), dup: packet.dup };
    if (topic === 'evs/stream') d.stream.push(got);
    else if (topic === 'evs/q2') d.q2.push(got);
  });
  return new Promise((resolve, reject) => {
    client.once('connect', (connack) => {
      d.client = client;
      resolve(connack);
    });
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

/** Through the load balancer until a node accepts (one still in rotation a moment may refuse with 0x9C). */
async function reattach(d: Device, lb: LbProxy): Promise<void> {
  const lost = Date.now();
  for (let i = 0; ; i++) {
    try {
      const connack = await attach(d, lb.port);
      d.sessionPresent = connack.sessionPresent;
      d.reconnectMs = Date.now() - lost;
      return;
    } catch (err) {
      if (i >= 50) throw err;
      await sleep(100);
    }
  }
}

/** The sequence numbers a subscriber saw, without DUP redeliveries of ones it already had. */
function firstSightings(got: Got[]): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const g of got) {
    if (g.dup && seen.has(g.seq)) continue;
    seen.add(g.seq);
    out.push(g.seq);
  }
  return out;
}

/** A client's QoS 2 store that outlives one connection (MQTT.js closes its stores with the client). */
class KeptStore extends mqtt.Store {
  override close(cb?: () => void): this {
    cb?.();
    return this;
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test('scale-in: SIGTERM to a node with evacuate_on_shutdown moves 40 sessions; every client resumes elsewhere with every message, in order', { timeout: 120_000 }, async () => {
  let cluster: EvacCluster | undefined;
  let lb: LbProxy | undefined;
  let pub: MqttClient | undefined;
  const devices: Device[] = [];
  let publishing = true;
  try {
    cluster = await startEvacCluster(['evs-a', 'evs-b', 'evs-c'], {
      'evs-c': {
        VIREO_NODE__EVACUATE_ON_SHUTDOWN: 'true',
        VIREO_NODE__EVACUATION__WAIT_HEALTH_CHECK: '1s',
        VIREO_NODE__EVACUATION__WAIT_TAKEOVER: '3s',
      },
    });
    const [a, b, c] = cluster.nodes as [EvacCluster['nodes'][0], EvacCluster['nodes'][0], EvacCluster['nodes'][0]];
    await waitClustered([a, b, c]);
    lb = await startLbProxy([a, b, c]);
    await lb.waitAvailable(['evs-a', 'evs-b', 'evs-c'], 30_000);

    // forty persistent sessions on C: 0–19 online, 20–39 offline; even: MQTT 5, odd: 3.1.1
    for (let i = 0; i < 40; i++) {
      const d: Device = {
        id: `evs-${String(i).padStart(2, '0')}`,
        v5: i % 2 === 0,
        online: i < 20,
        qos2: i === 0 || i === 21,
        stream: [],
        q2: [],
        incomingStore: new KeptStore(),
      };
      devices.push(d);
      await attach(d, c.mqttPort);
      await d.client!.subscribeAsync('evs/stream', { qos: 1 });
      if (d.qos2) await d.client!.subscribeAsync('evs/q2', { qos: 2 });
      if (!d.online) {
        await endAll(d.client);
        d.client = undefined;
      }
    }
    pub = await connect(`mqtt://127.0.0.1:${a.mqttPort}`, { clientId: 'evs-pub' });
    // C's routes (all made before this probe's) are known on A
    await syncRoutes(pub, [devices[0]!.client!]);

    let seq = 0;
    const stream = (async () => {
      while (publishing) {
        seq++;
        await Promise.all([pub!.publishAsync('evs/stream', String(seq), { qos: 1 }), pub!.publishAsync('evs/q2', String(seq), { qos: 2 })]);
        await sleep(40);
      }
    })();
    await waitFor(() => devices[0]!.stream.length >= 20, 'the stream flowing to the online clients', 20_000);

    // the online clients reconnect through the load balancer as soon as C lets them go
    const reconnects: Promise<void>[] = [];
    for (const d of devices.filter((x) => x.online)) {
      d.client!.once('close', () => reconnects.push(reattach(d, lb!)));
    }
    const evicted: mqtt.IDisconnectPacket[] = [];
    for (const d of devices.filter((x) => x.online && x.v5)) d.client!.once('disconnect', (p) => evicted.push(p));
    c.proc.kill('SIGTERM');
    await waitFor(() => c.proc.logs().some((l) => l.msg === 'Evacuation: waiting_health_check'), 'C evacuating', 10_000);
    assert.equal(await availability(c), 503, 'C is unavailable at once');

    const exit = await c.proc.waitExit(60_000);
    assert.equal(exit.code, 0, `C exits 0\n${c.proc.stdout().slice(-4000)}`);
    await waitFor(() => reconnects.length === 20, 'every online client lost its connection', 10_000);
    await Promise.all(reconnects);
    assert.equal(evicted.length, 10);
    assert.ok(
      evicted.every((p) => p.reasonCode === 0x9c),
      'v5 clients got DISCONNECT 0x9C',
    );
    const cLogs = c.proc.logs();
    for (const state of ['waiting_health_check', 'evicting_conns', 'waiting_takeover', 'evicting_sessions', 'prohibiting']) {
      assert.ok(
        cLogs.some((l) => l.msg === `Evacuation: ${state}`),
        `C logged ${state}`,
      );
    }

    // the offline ones come back after C is gone, through the load balancer
    await lb.waitAvailable(['evs-a', 'evs-b'], 30_000);
    for (const d of devices.filter((x) => !x.online)) await reattach(d, lb);
    for (const d of devices) assert.equal(d.sessionPresent, true, `${d.id} finds its session`);
    // the sessions C pushed went to both remaining nodes (spread by session count)
    const received = (n: typeof a) => n.proc.logs().filter((l) => l.msg === 'Session received from an evacuating node').length;
    assert.ok(received(a) > 0 && received(b) > 0, `pushed sessions on both nodes (a: ${received(a)}, b: ${received(b)})`);

    // a little more of the stream, then every client must have all of it
    const more = seq + 10;
    await waitFor(() => seq >= more, 'the stream going on', 20_000);
    publishing = false;
    await stream;
    const last = seq;
    await waitFor(
      () => devices.every((d) => d.stream.some((g) => g.seq === last) && (!d.qos2 || d.q2.some((g) => g.seq === last))),
      `every client receiving message ${last}`,
      30_000,
    );
    for (const d of devices) {
      assert.deepEqual(firstSightings(d.stream), range(last), `${d.id} (${d.online ? 'online' : 'offline'}, ${d.v5 ? 'v5' : '3.1.1'}): QoS 1 stream complete and in order`);
      if (d.qos2)
        assert.deepEqual(
          d.q2.map((g) => g.seq),
          range(last),
          `${d.id}: QoS 2 exactly once, in order`,
        );
    }
    const stopped = (await api(a, 'GET', '/api/v5/cluster')).body as { stopped_nodes: string[]; running_nodes: string[] };
    assert.ok(stopped.stopped_nodes.includes(c.node), `A shows C stopped: ${JSON.stringify(stopped)}`);
    assert.deepEqual([...stopped.running_nodes].sort(), [a.node, b.node].sort());
    const online = devices.filter((d) => d.online).map((d) => d.reconnectMs!);
    console.log(
      `reconnect time of the evicted clients (eviction to CONNACK elsewhere): max ${Math.max(...online)} ms; last message ${last}; dup redeliveries ${devices.reduce((n, d) => n + d.stream.length - firstSightings(d.stream).length, 0)}`,
    );
  } finally {
    publishing = false;
    await endAll(pub, ...devices.map((d) => d.client));
    await lb?.close();
    cluster?.cleanup();
  }
});

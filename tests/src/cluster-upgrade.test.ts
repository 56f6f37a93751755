/**
 * Upgrading node by node: nodes that declare different peer protocol versions within each
 * other's range form one cluster and move sessions between them (remote takeover, the
 * session encoded as the link's version reads it); nodes whose ranges do not meet refuse
 * each other, and both logs name both versions. Real processes; the older protocol is
 * declared with `cluster.rpc.protocol_max` (what a node of the release before speaks).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { PROTOCOL_MIN, PROTOCOL_VERSION } from '@vireo/cluster';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { logsMatching, startNode, syncRoutes, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';
import { spawnVireo } from './vireo-process.js';

const T = { timeout: 120_000 };
const nodes: ClusterNode[] = [];
after(async () => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.proc.waitExit()));
});

/** Connects with the message handler in place before CONNACK: queued messages follow it at once. */
async function resume(url: string, clientId: string, got: string[]): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  const client = mqtt.connect(url, { clientId, clean: false, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
  client.on('message', (_t, payload) => got.push(payload.toString()));
  const sessionPresent = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (ack) => resolve(ack.sessionPresent));
    client.once('error', reject);
  });
  return { client, sessionPresent };
}

test('nodes declaring protocol 2 and 3 form one cluster and hand sessions over both ways, queued QoS 1 messages in order', T, async () => {
  assert.ok(PROTOCOL_MIN < PROTOCOL_VERSION, 'this build speaks a range of versions');
  const rpc = [await freePort(), await freePort(), await freePort()];
  const old = PROTOCOL_MIN;
  const [a, b, c] = [
    startNode({ name: 'upa@127.0.0.1', rpcPort: rpc[0]!, mqttPort: await freePort(), seeds: rpc, extraEnv: { VIREO_CLUSTER__RPC__PROTOCOL_MAX: String(old) } }),
    startNode({ name: 'upb@127.0.0.1', rpcPort: rpc[1]!, mqttPort: await freePort(), seeds: rpc }),
    startNode({ name: 'upc@127.0.0.1', rpcPort: rpc[2]!, mqttPort: await freePort(), seeds: rpc }),
  ] as [ClusterNode, ClusterNode, ClusterNode];
  nodes.push(a, b, c);
  const clients: MqttClient[] = [];
  try {
    for (const n of [a, b, c]) await waitMembers(n, [a.name, b.name, c.name], 30_000);
    // each pair uses the newest version both accept: the old one with a, the new one between b and c
    const agreed = (at: ClusterNode, peer: ClusterNode) => logsMatching(at, 'Cluster peer admitted', (l) => l.peer_node === peer.name).at(-1)?.protocol;
    assert.equal(agreed(b, a), old);
    assert.equal(agreed(a, b), old);
    assert.equal(agreed(b, c), PROTOCOL_VERSION);
    assert.equal(agreed(c, b), PROTOCOL_VERSION);

    // a persistent session on a, offline, with QoS 1 messages queued for it
    const id = 'upgrade-dev';
    const first = await connect(a.url, { clientId: id, clean: false, protocolVersion: 4 });
    await first.subscribeAsync('up/dev', { qos: 1 });
    await endAll(first);
    let expected: string[] = [];
    // a → b (protocol 2: V8 bytes), b → c (protocol 3: record encoding), c → b → a (3, then 2)
    const hops: [ClusterNode, ClusterNode][] = [
      [a, b],
      [b, c],
      [c, b],
      [b, a],
    ];
    for (const [from, to] of hops) {
      const pub = await connect(from.url, { clientId: `pub-${from.name}`, protocolVersion: 5 });
      clients.push(pub);
      const batch = Array.from({ length: 5 }, (_, i) => `${from.name}->${to.name} #${i}`);
      // published on the node that holds the session: each PUBACK means it is queued there
      for (const m of batch) await pub.publishAsync('up/dev', m, { qos: 1 });
      expected = batch;
      const got: string[] = [];
      const { client, sessionPresent } = await resume(to.url, id, got);
      clients.push(client);
      assert.equal(sessionPresent, true, `session present on ${to.name} after moving from ${from.name}`);
      await waitFor(() => got.length >= expected.length, `the queued messages on ${to.name}`, 10_000);
      assert.deepEqual(got, expected, `every queued message, in order, once, on ${to.name}`);
      await waitLog(to, 'Session taken over from another node', (l) => l.clientid === id && l.peer_node === from.name);
      // the subscription came along: a message published on a third node reaches it live
      const third = [a, b, c].find((n) => n !== from && n !== to)!;
      const live = await connect(third.url, { clientId: `live-${third.name}-${to.name}`, protocolVersion: 5 });
      clients.push(live);
      await syncRoutes(live, [client]);
      got.length = 0;
      await live.publishAsync('up/dev', 'live', { qos: 1 });
      await waitFor(() => got.includes('live'), `a live message on ${to.name}`);
      await endAll(client, pub, live);
    }
  } finally {
    await endAll(...clients);
  }
});

test('nodes whose protocol ranges do not meet refuse each other; both logs name both versions', T, async () => {
  const rpc = [await freePort(), await freePort()];
  // d accepts only the newest protocol (raised after an upgrade); e speaks only the older one
  const d = startNode({
    name: 'upd@127.0.0.1',
    rpcPort: rpc[0]!,
    mqttPort: await freePort(),
    seeds: rpc,
    extraEnv: { VIREO_CLUSTER__RPC__PROTOCOL_MIN: String(PROTOCOL_VERSION) },
  });
  const e = startNode({ name: 'upe@127.0.0.1', rpcPort: rpc[1]!, mqttPort: await freePort(), seeds: rpc, extraEnv: { VIREO_CLUSTER__RPC__PROTOCOL_MAX: String(PROTOCOL_MIN) } });
  nodes.push(d, e);
  const dRange = String(PROTOCOL_VERSION);
  const eRange = String(PROTOCOL_MIN);
  const reason = (dialer: ClusterNode, dialerRange: string, acceptor: ClusterNode, acceptorRange: string) =>
    `protocol version: ${dialer.name} speaks ${dialerRange}, ${acceptor.name} speaks ${acceptorRange}`;
  // each node dials the other: as the dialled node it refuses, as the dialler it is refused
  const atD = await waitLog(d, 'Refused cluster peer', (l) => l.peer_node === e.name, 20_000);
  assert.equal(atD.reason, reason(e, eRange, d, dRange));
  assert.equal(atD.level, 'error');
  const atE = await waitLog(e, 'Refused cluster peer', (l) => l.peer_node === d.name, 20_000);
  assert.equal(atE.reason, reason(d, dRange, e, eRange));
  // the dialler is refused before the peer names itself: the reason names it
  const byD = await waitLog(d, 'Refused by cluster peer', (l) => String(l.reason).includes(e.name), 20_000);
  assert.equal(byD.peer, `127.0.0.1:${e.rpcPort}`);
  assert.equal(byD.reason, reason(d, dRange, e, eRange));
  assert.match(byD.msg, /every node of a cluster must speak a common protocol version/);
  const byE = await waitLog(e, 'Refused by cluster peer', (l) => String(l.reason).includes(d.name), 20_000);
  assert.equal(byE.reason, reason(e, eRange, d, dRange));
  for (const [n, peer] of [
    [d, e],
    [e, d],
  ] as const) {
    assert.equal(logsMatching(n, 'Cluster node running', (l) => l.peer_node === peer.name).length, 0, `${n.name} never ran with ${peer.name}`);
    assert.equal(logsMatching(n, 'Cluster peer admitted', (l) => l.peer_node === peer.name).length, 0);
  }
});

test('a protocol range that is empty or outside the build stops start-up, naming the key', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-upgrade-'));
  const base = {
    VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
    VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
    VIREO_NODE__COOKIE: 'cluster-test-cookie',
    VIREO_NODE__DATA_DIR: dir,
    VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${await freePort()}`,
  };
  const inverted = spawnVireo({ env: { ...base, VIREO_CLUSTER__RPC__PROTOCOL_MIN: String(PROTOCOL_VERSION), VIREO_CLUSTER__RPC__PROTOCOL_MAX: String(PROTOCOL_MIN) } });
  assert.equal((await inverted.waitExit(20_000)).code, 2, inverted.stderr());
  assert.match(inverted.stderr(), new RegExp(`cluster\\.rpc\\.protocol_min: ${PROTOCOL_VERSION} is above cluster\\.rpc\\.protocol_max \\(${PROTOCOL_MIN}\\)`));
  const future = spawnVireo({ env: { ...base, VIREO_CLUSTER__RPC__PROTOCOL_MAX: String(PROTOCOL_VERSION + 1) } });
  assert.equal((await future.waitExit(20_000)).code, 2, future.stderr());
  assert.match(future.stderr(), /cluster\.rpc\.protocol_max: expected an integer/);
  rmSync(dir, { recursive: true, force: true });
});

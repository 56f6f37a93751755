/**
 * Writes to a peer honour its stream's backpressure (docs/limits.md), with real processes:
 * the peer is frozen (SIGSTOP, shorter than the heartbeat timeout, so the link stays up)
 * while the other node forwards it a burst. The sender's unread bytes for that peer stay
 * near `cluster.rpc.max_pending_bytes` instead of the whole burst; QoS 0 forwards past it
 * are dropped and counted; after SIGCONT every QoS 1 message reaches the subscriber on the
 * frozen node, once each and in order. And `retainer.backend.max_retained_messages` holds
 * for the cluster: a retained message one node refuses is not copied to the other.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, quietFor, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { metric } from './api-node.js';
import { logsMatching, startNode, syncRoutes, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';

const MAX_PENDING = 256 * 1024;
const N = 1000;
const PAYLOAD = 8 * 1024; // 8MB of QoS 1 in all: 32 times the bound
/** The retained limit, the same on both nodes (the second test). */
const RETAINED = { VIREO_RETAINER__BACKEND__MAX_RETAINED_MESSAGES: '2' };

describe('a peer that stops reading', () => {
  let nodes: ClusterNode[] = [];
  let httpPort = 0;
  const clients: MqttClient[] = [];

  before(async () => {
    const rpc = [await freePort(), await freePort()];
    const mqttPorts = [await freePort(), await freePort()];
    httpPort = await freePort();
    nodes = [
      startNode({
        name: 'bp0@127.0.0.1',
        rpcPort: rpc[0]!,
        mqttPort: mqttPorts[0]!,
        seeds: rpc,
        extraEnv: { ...RETAINED, VIREO_CLUSTER__RPC__MAX_PENDING_BYTES: String(MAX_PENDING), VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${httpPort}` },
      }),
      // the subscriber's queue takes the whole burst at once when the node wakes up
      startNode({ name: 'bp1@127.0.0.1', rpcPort: rpc[1]!, mqttPort: mqttPorts[1]!, seeds: rpc, extraEnv: { ...RETAINED, VIREO_MQTT__MAX_MQUEUE_LEN: '100000' } }),
    ];
    await Promise.all(nodes.map((n) => waitMembers(n, ['bp0@127.0.0.1', 'bp1@127.0.0.1'])));
  });

  after(async () => {
    for (const n of nodes) n.proc.kill('SIGCONT');
    await endAll(...clients);
    for (const n of nodes) n.proc.kill('SIGKILL');
    killAllVireo();
  });

  test('QoS 1 forwards wait and all arrive after it resumes; the sender holds about the bound; QoS 0 past it is dropped and counted', { timeout: 120_000 }, async () => {
    const [a, frozen] = nodes as [ClusterNode, ClusterNode];
    // the subscriber listens before its SUBACK: nothing is missed
    const sub = mqtt.connect(frozen.url, { clientId: 'bp-sub', protocolVersion: 5, keepalive: 120, reconnectPeriod: 0 });
    clients.push(sub);
    const got: string[] = [];
    let qos0Got = 0;
    sub.on('message', (t, p) => {
      if (t === 'bp/q1') got.push(p.subarray(0, 6).toString());
      else if (t === 'bp/q0') qos0Got++;
    });
    await new Promise<void>((resolve, reject) => sub.once('connect', () => resolve()).once('error', reject));
    await sub.subscribeAsync('bp/#', { qos: 1 });
    const pub = await connect(a.url, { clientId: 'bp-pub', protocolVersion: 5, keepalive: 120 });
    clients.push(pub);
    await syncRoutes(pub, [sub]);
    assert.equal(await metric(httpPort, 'vireo_cluster_peer_pending_bytes'), 0, 'nothing unread before');

    frozen.proc.kill('SIGSTOP');
    let most = 0;
    try {
      const pad = Buffer.alloc(PAYLOAD - 6, 0x2e);
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        sends.push(pub.publishAsync('bp/q1', Buffer.concat([Buffer.from(String(i).padStart(6, '0')), pad]), { qos: 1 }));
        if (i % 100 === 99) {
          await Promise.all(sends.splice(0));
          most = Math.max(most, await metric(httpPort, 'vireo_cluster_peer_pending_bytes'));
        }
      }
      await Promise.all(sends);
      // the QoS 1 forwards now wait behind a congested stream: QoS 0 ones are dropped
      for (let i = 0; i < 200; i++) await pub.publishAsync('bp/q0', 'zero', { qos: 0 });
      await waitFor(async () => (await metric(httpPort, 'vireo_cluster_forward_dropped_total')) >= 200, 'the QoS 0 forwards counted as dropped', 10_000, 100);
      most = Math.max(most, await metric(httpPort, 'vireo_cluster_peer_pending_bytes'));
      await waitLog(a, 'Cluster node is not reading', (l) => l.peer_node === frozen.name);
    } finally {
      // well inside the heartbeat timeout (5 s): the link stays up through the freeze
      frozen.proc.kill('SIGCONT');
    }
    // bound + one forward frame (at most 1MB) + heartbeats: far below the 8MB published
    assert.ok(most > 0, 'the frozen peer left bytes unread');
    assert.ok(most <= MAX_PENDING + 1.5 * 1024 * 1024, `unread bytes for the frozen peer: ${most}`);

    await waitFor(() => got.length >= N, `all ${N} QoS 1 messages on the resumed node (got ${got.length})`, 60_000, 50);
    await quietFor(300, () => got.length === N, 'each once');
    assert.deepEqual(
      got,
      Array.from({ length: N }, (_, i) => String(i).padStart(6, '0')),
      'in order',
    );
    assert.equal(qos0Got, 0, 'the QoS 0 forwards were dropped');
    await waitFor(async () => (await metric(httpPort, 'vireo_cluster_peer_pending_bytes')) < MAX_PENDING, 'the stream drained');
    await waitLog(a, 'Cluster node is reading again', (l) => l.peer_node === frozen.name);
    assert.deepEqual(logsMatching(a, 'Cluster node down'), [], 'the link stayed up');
  });

  test('max_retained_messages holds for the cluster: a refused retained message is not copied; replacing works from either node', { timeout: 120_000 }, async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const pa = await connect(a.url, { clientId: 'rt-pa', protocolVersion: 5 });
    const pb = await connect(b.url, { clientId: 'rt-pb', protocolVersion: 5 });
    clients.push(pa, pb);
    /** What a new subscriber on `node` gets for rt/# (topic → payload), until a sentinel. */
    const retainedOn = async (node: ClusterNode, id: string): Promise<Record<string, string>> => {
      const c = mqtt.connect(node.url, { clientId: id, protocolVersion: 5, reconnectPeriod: 0 });
      const out: Record<string, string> = {};
      let end = false;
      c.on('message', (t, p) => {
        if (t === `end/${id}`) end = true;
        else out[t] = p.toString();
      });
      try {
        await new Promise<void>((resolve, reject) => c.once('connect', () => resolve()).once('error', reject));
        await c.subscribeAsync('rt/#', { qos: 1 });
        await c.subscribeAsync(`end/${id}`, { qos: 1 });
        await c.publishAsync(`end/${id}`, 'end', { qos: 1 });
        await waitFor(() => end, 'the sentinel');
        return out;
      } finally {
        await endAll(c);
      }
    };
    let n = 0;
    const sorted = (r: Record<string, string>) => JSON.stringify(Object.entries(r).sort());
    const until = async (node: ClusterNode, want: Record<string, string>) =>
      waitFor(async () => sorted(await retainedOn(node, `rt-s${++n}`)) === sorted(want), `${node.name} to hold ${JSON.stringify(want)}`, 15_000, 100);

    await pa.publishAsync('rt/1', 'a1', { qos: 1, retain: true });
    await pa.publishAsync('rt/2', 'a2', { qos: 1, retain: true });
    await until(b, { 'rt/1': 'a1', 'rt/2': 'a2' });
    // full on both nodes: a new topic is refused where it is published, and not copied
    await pa.publishAsync('rt/3', 'a3', { qos: 1, retain: true });
    await pb.publishAsync('rt/4', 'b4', { qos: 1, retain: true });
    await pb.publishAsync('rt/1', 'b1', { qos: 1, retain: true });
    await until(a, { 'rt/1': 'b1', 'rt/2': 'a2' });
    await until(b, { 'rt/1': 'b1', 'rt/2': 'a2' });
    assert.ok(logsMatching(a, 'failed_to_retain_message').some((l) => l.topic === 'rt/3' && l.reason === 'table_is_full'));
    assert.ok(logsMatching(b, 'failed_to_retain_message').some((l) => l.topic === 'rt/4' && l.reason === 'table_is_full'));
    assert.ok(!logsMatching(b, 'failed_to_retain_message').some((l) => l.topic === 'rt/3'), 'rt/3 never reached b');
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/api/v5/prometheus/stats`)).text();
    assert.match(text, /^vireo_retained_dropped_total\{reason="table_is_full"[^}]*\} 1$/m, 'counted on the node that refused it');
  });
});

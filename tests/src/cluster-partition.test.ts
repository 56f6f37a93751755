/**
 * A network partition with real processes on a real (virtual) network: three nodes, each
 * in its own network namespace; the links between {0, 1} and {2} are cut. Each side keeps
 * serving its clients; a clientid connects on both sides; after healing, routes converge
 * both ways (including subscriptions made during the split) and only the newest
 * connection of the clientid is left (autoheal: the older one gets DISCONNECT 0x8E and
 * its node logs it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { IDisconnectPacket } from 'mqtt-packet';
import { collect, connect, endAll, quietFor, sleep, waitFor } from './harness.js';
import { killAllVireo, spawnVireo, VIREO_CLI } from './vireo-process.js';
import { logsMatching, syncRoutes, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';
import { createNetLab, netnsAvailable, type NetLab } from './netns.js';

const skip = netnsAvailable() ? false : 'needs root and ip netns';

/** Waits for the `nth` (1-based) log line with `msg` about `peer` on `node`. */
async function waitNth(node: ClusterNode, msg: string, peer: string, nth: number, ms = 15_000): Promise<void> {
  await waitFor(() => logsMatching(node, msg, (l) => l.peer_node === peer).length >= nth, `${node.name} to log "${msg}" for ${peer} ${nth} times`, Math.max(ms, 30_000)).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${node.proc.stdout().slice(-3000)}`);
    },
  );
}

/** Records what `client` receives on `topic` (as payload strings), until stopped. */
function record(client: MqttClient, topic: string): { got: string[]; stop(): void } {
  const got: string[] = [];
  const on = (t: string, p: Buffer) => {
    if (t === topic) got.push(p.toString());
  };
  client.on('message', on);
  return { got, stop: () => client.removeListener('message', on) };
}

describe('a partition of a three-node cluster', { skip }, () => {
  let lab: NetLab | undefined;
  let nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  const client = async (i: number, clientId: string, extra: object = {}): Promise<MqttClient> => {
    const c = await connect(nodes[i]!.url, { clientId, protocolVersion: 5, ...extra });
    clients.push(c);
    return c;
  };

  before(async () => {
    lab = createNetLab(3);
    const ips = lab.ips;
    nodes = ips.map((addr, i) => {
      const name = `part${i}@${addr}`;
      const env = {
        VIREO_NODE__NAME: name,
        VIREO_NODE__COOKIE: 'partition-test-cookie',
        VIREO_CLUSTER__DISCOVERY_STRATEGY: 'static',
        VIREO_CLUSTER__STATIC__SEEDS: `[${ips.map((a) => `${a}:5370`).join(', ')}]`,
        VIREO_CLUSTER__RPC__BIND: `${addr}:5370`,
        VIREO_LISTENERS__TCP__DEFAULT__BIND: `${addr}:1883`,
        VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      };
      const proc = spawnVireo({ env, command: [...lab!.exec(i), process.execPath, VIREO_CLI] });
      return { name, rpcPort: 5370, mqttPort: 1883, url: `mqtt://${addr}:1883`, proc, env };
    });
    await Promise.all(
      nodes.map((n) =>
        waitMembers(
          n,
          nodes.map((m) => m.name),
          40_000,
        ),
      ),
    );
  });

  after(async () => {
    await endAll(...clients);
    for (const n of nodes) n.proc.kill('SIGKILL');
    killAllVireo();
    lab?.close();
  });

  test('each side serves during the split; afterwards routes converge and the newest connection of a clientid stays', { timeout: 120_000 }, async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const subA = await client(0, 'sub-a');
    const subC = await client(2, 'sub-c');
    await subA.subscribeAsync('p/#', { qos: 1 });
    await subC.subscribeAsync('p/#', { qos: 1 });
    await subC.subscribeAsync('inflight/#', { qos: 1 });
    const inflightGot: string[] = [];
    subC.on('message', (t, p) => {
      if (t === 'inflight/x') inflightGot.push(p.toString());
    });
    const pubA = await client(0, 'pub-a');
    const pubC = await client(2, 'pub-c');
    await syncRoutes(pubA, [subC]);

    lab!.cut([0, 1], [2]);
    // published before the cut is noticed: forwarded into the void, acknowledged to the
    // publisher by its node, so they must arrive once the link is back
    const inflight = ['q1', 'q2', 'q3', 'q4', 'q5'];
    for (const m of inflight) await pubA.publishAsync('inflight/x', m, { qos: 1 });
    // both sides find the other silent (heartbeat timeout)
    await Promise.all([waitNth(a, 'Cluster node down', c.name, 1), waitNth(c, 'Cluster node down', a.name, 1), waitNth(c, 'Cluster node down', b.name, 1)]);

    // each side keeps serving: its own publishers reach its own subscribers
    const gotA = collect(subA, 1, 15_000);
    const gotC = collect(subC, 1, 15_000);
    await pubA.publishAsync('p/a', 'from-a', { qos: 1 });
    await pubC.publishAsync('p/c', 'from-c', { qos: 1 });
    assert.deepEqual(
      (await gotA).map((m) => m.payload),
      ['from-a'],
    );
    assert.deepEqual(
      (await gotC).map((m) => m.payload),
      ['from-c'],
    );

    // a subscription made on one side during the split
    const lateC = await client(2, 'late-c');
    await lateC.subscribeAsync('split/#', { qos: 1 });

    // one clientid on both sides: first on node 0, then (newer) on node 2
    const older = await client(0, 'twin', { clean: false, properties: { sessionExpiryInterval: 300 } });
    let olderDisconnect: IDisconnectPacket | undefined;
    older.on('disconnect', (p) => (olderDisconnect = p));
    await sleep(20);
    const newer = await client(2, 'twin', { clean: false, properties: { sessionExpiryInterval: 300 } });
    let newerClosed = false;
    newer.on('close', () => (newerClosed = true));

    lab!.heal();
    await Promise.all([
      waitNth(a, 'Cluster node running', c.name, 2, 20_000),
      waitNth(c, 'Cluster node running', a.name, 2, 20_000),
      waitNth(c, 'Cluster node running', b.name, 2, 20_000),
    ]);

    // autoheal: the older connection is kicked on its node, the newer one stays
    const healed = await waitLog(a, 'Autoheal', (l) => l.clientid === 'twin', 5000);
    assert.equal(healed.peer_node, c.name);
    await waitLog(a, 'Session discarded', (l) => l.clientid === 'twin', 5000);
    await waitFor(() => olderDisconnect !== undefined, 'the older twin DISCONNECTed', 10_000).catch(() => undefined);
    assert.equal(olderDisconnect?.reasonCode, 0x8e, 'the older twin got DISCONNECT 0x8E');
    assert.equal(newerClosed, false, 'the newer twin is still connected');
    assert.equal(logsMatching(c, 'Autoheal').length, 0, 'the node with the newer connection kept it');

    // routes converge both ways: a node-0 publish reaches the subscription made on node 2
    // during the split, and each subscriber gets each message once
    const until2 = Date.now() + 30_000;
    const probe = record(lateC, 'split/probe');
    for (;;) {
      await pubA.publishAsync('split/probe', 'x', { qos: 0 });
      if (
        await waitFor(() => probe.got.length > 0, 'the probe', 300).then(
          () => true,
          () => false,
        )
      )
        break;
      if (Date.now() > until2) assert.fail('routes from node 2 never reached node 0 after healing');
    }
    probe.stop();
    const onA = record(subA, 'p/after');
    const onC = record(subC, 'p/after');
    const onLate = record(lateC, 'split/after');
    await pubC.publishAsync('p/after', 'c→all', { qos: 1 });
    await pubA.publishAsync('split/after', 'a→late', { qos: 1 });
    const all = [onA, onC, onLate];
    await waitFor(() => all.every((r) => r.got.length > 0), 'a copy for each subscriber', 10_000).catch(() => undefined);
    await quietFor(1000, () => all.every((r) => r.got.length <= 1), 'no second copy');
    all.forEach((r) => r.stop());
    assert.deepEqual(onA.got, ['c→all'], 'node 0 subscriber: once');
    assert.deepEqual(onC.got, ['c→all'], 'node 2 subscriber: once');
    assert.deepEqual(onLate.got, ['a→late'], 'subscription made during the split: once');
    // QoS 1 messages in flight when the network was cut: sent again after healing, once each, in order
    await waitFor(() => inflightGot.length >= inflight.length, 'the in-flight messages sent again', 15_000).catch(() => undefined);
    await quietFor(300, () => inflightGot.length <= inflight.length, 'each in-flight message once');
    assert.deepEqual(inflightGot, inflight);
    // Not asserted: that they came back through the acknowledgement buffer's resend (its
    // 'Unacknowledged forwards sent again' line). In two loaded full-suite runs they arrived once
    // and in order without that line; which path delivered them is not yet understood (see
    // docs/clustering.md's known limits). What a user sees is asserted above.
  });
});

/**
 * An ingress bridge in a two-node cluster against a real Mosquitto: exactly one node
 * subscribes (each remote message arrives once in the cluster, not once per node), and when
 * that node is killed the other takes over with the same client id, so what the remote kept
 * for the session meanwhile (QoS 1, clean_start false) arrives — nothing lost, nothing twice.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, waitFor, quietFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startMosquitto, type Mosquitto } from './mosquitto-server.js';
import { logsMatching, startNode, syncRoutes, waitMembers, type ClusterNode } from './cluster-nodes.js';

const clients: MqttClient[] = [];
const nodes: ClusterNode[] = [];
let mosq: Mosquitto | undefined;

after(async () => {
  await endAll(...clients);
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  if (mosq) {
    await mosq.stop();
    rmSync(mosq.dir, { recursive: true, force: true });
  }
});

test('ingress runs on exactly one node and moves, with its session, when that node goes', { timeout: 120_000 }, async () => {
  mosq = await startMosquitto(await freePort());
  const rpc = [await freePort(), await freePort()];
  for (let i = 0; i < 2; i++) {
    nodes.push(
      startNode({
        name: `ing${i}@127.0.0.1`,
        rpcPort: rpc[i]!,
        mqttPort: await freePort(),
        seeds: rpc,
        extraEnv: {
          VIREO_BRIDGES__MQTT__CMD__SERVER: `127.0.0.1:${mosq.port}`,
          VIREO_BRIDGES__MQTT__CMD__RECONNECT_INTERVAL: '200ms',
          VIREO_BRIDGES__MQTT__CMD__CLEAN_START: 'false',
          VIREO_BRIDGES__MQTT__CMD__INGRESS__REMOTE__TOPIC: 'cmd/#',
          VIREO_BRIDGES__MQTT__CMD__INGRESS__REMOTE__QOS: '1',
          VIREO_BRIDGES__MQTT__CMD__INGRESS__LOCAL__TOPIC: 'local/${topic}',
          // both directions: ingress on the owner's own connection, egress from every node
          VIREO_BRIDGES__MQTT__BOTH__SERVER: `127.0.0.1:${mosq.port}`,
          VIREO_BRIDGES__MQTT__BOTH__RECONNECT_INTERVAL: '200ms',
          VIREO_BRIDGES__MQTT__BOTH__INGRESS__REMOTE__TOPIC: 'down/#',
          VIREO_BRIDGES__MQTT__BOTH__INGRESS__LOCAL__TOPIC: 'local/${topic}',
          VIREO_BRIDGES__MQTT__BOTH__EGRESS__LOCAL__TOPIC: 'up/#',
        },
      }),
    );
  }
  await Promise.all(
    nodes.map((n) =>
      waitMembers(
        n,
        nodes.map((x) => x.name),
        40_000,
      ),
    ),
  );
  // the owner is the same on both nodes' view; only it logs that the ingress runs there
  // (before the nodes saw each other, each ran it alone: starts minus stops is what runs now)
  const runsOf = (n: ClusterNode, bridge: string) =>
    logsMatching(n, 'Bridge ingress runs on this node', (l) => l.bridge === bridge).length -
    logsMatching(n, 'Bridge ingress stopped on this node', (l) => l.bridge === bridge).length;
  const runs = (n: ClusterNode) => runsOf(n, 'cmd');
  await waitFor(() => nodes.filter((n) => runsOf(n, 'both') > 0).length === 1, 'exactly one node runs the ingress of both', 20_000);
  await waitFor(() => nodes.filter((n) => runs(n) > 0).length === 1, 'exactly one node runs the ingress', 20_000);
  const owner = nodes.find((n) => runs(n) > 0)!;
  const other = nodes.find((n) => n !== owner)!;
  await waitFor(() => mosq!.log().includes('Received SUBSCRIBE from cmd:ingress'), 'the ingress subscription at Mosquitto', 20_000);

  const subs = await Promise.all(nodes.map((n, i) => connect(n.url, { clientId: `local-sub-${i}` })));
  clients.push(...subs);
  await Promise.all(subs.map((s) => s.subscribeAsync('local/#', { qos: 1 })));
  const remote = await connect(`mqtt://127.0.0.1:${mosq.port}`, { clientId: 'remote-pub' });
  clients.push(remote);
  const got = subs.map((s) => {
    const seen: string[] = [];
    s.on('message', (t, p) => (t.startsWith('local/cmd/') || t.startsWith('local/down/')) && seen.push(`${t}=${p.toString()}`));
    return seen;
  });
  await syncRoutes(await connect(owner.url, { clientId: 'sync-probe' }).then((c) => (clients.push(c), c)), subs);

  await remote.publishAsync('cmd/1', 'one', { qos: 1 });
  await remote.publishAsync('down/1', 'two-way', { qos: 1 });
  await remote.publishAsync('cmd/end', 'marker', { qos: 1 });
  await waitFor(() => got.every((g) => g.includes('local/cmd/end=marker')), 'both subscribers got the marker', 10_000);
  // a second ingress would deliver its copies about as fast
  await quietFor(300, () => got.every((g) => g.length <= 3), 'each remote message once in the cluster');
  for (const g of got) assert.deepEqual(g.sort(), ['local/cmd/1=one', 'local/cmd/end=marker', 'local/down/1=two-way'], 'each remote message once in the cluster');
  assert.equal(runs(other), 0, 'the other node does not subscribe');

  // the owner dies; published meanwhile at the remote, kept there for the ingress session
  owner.proc.kill('SIGKILL');
  await remote.publishAsync('cmd/2', 'while-moving', { qos: 1 });
  const survivor = subs[nodes.indexOf(other)]!;
  const survivorGot = got[nodes.indexOf(other)]!;
  await waitFor(() => runs(other) > 0, 'the other node takes the ingress over', 60_000);
  await waitFor(() => survivorGot.includes('local/cmd/2=while-moving'), 'the message kept by the remote arrives through the new owner', 20_000);
  await remote.publishAsync('cmd/3', 'after', { qos: 1 });
  await waitFor(() => survivorGot.includes('local/cmd/3=after'), 'later messages too', 10_000);
  await quietFor(300, () => survivorGot.length <= 5, 'no message twice through the new owner');
  assert.deepEqual(survivorGot.slice(3), ['local/cmd/2=while-moving', 'local/cmd/3=after']);
  // the two-way bridge's ingress is on the survivor now too (it was, or it moved)
  await waitFor(() => runsOf(other, 'both') > 0, 'the survivor runs the two-way ingress', 20_000);
  await waitFor(
    () =>
      mosq!
        .log()
        .split('\n')
        .filter((l) => l.includes(`Received SUBSCRIBE from both:${other.name}`)).length > 0,
    'its subscription at Mosquitto',
    20_000,
  );
  await remote.publishAsync('down/2', 'later', { qos: 1 });
  await waitFor(() => survivorGot.includes('local/down/2=later'), 'two-way ingress after the move', 10_000);
  assert.ok(survivor.connected);
});

/**
 * A rolling restart (each node of three stopped and started again in turn, as an upgrade
 * does) never splits the cluster: after each step every node sees all three, and after
 * the roll messages cross between all of them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, endAll } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startCluster, startNode, syncRoutes, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';

let nodes: ClusterNode[] = [];

after(() => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
});

test('a rolling restart of three nodes keeps one cluster', { timeout: 120_000 }, async () => {
  nodes = await startCluster(3, 'roll');
  const names = nodes.map((n) => n.name);
  await Promise.all(nodes.map((n) => waitMembers(n, names)));
  const seeds = nodes.map((n) => n.rpcPort);

  for (let i = 0; i < nodes.length; i++) {
    const old = nodes[i]!;
    old.proc.kill('SIGTERM');
    assert.equal((await old.proc.waitExit()).code, 0);
    const others = nodes.filter((n) => n !== old);
    await Promise.all(others.map((n) => waitLog(n, 'Cluster node stopped', (l) => l.peer_node === old.name)));
    const fresh = startNode({ name: old.name, rpcPort: old.rpcPort, mqttPort: old.mqttPort, seeds });
    nodes[i] = fresh;
    await Promise.all(nodes.map((n) => waitMembers(n, names)));
  }

  const clients = await Promise.all(nodes.map((n, i) => connect(n.url, { clientId: `roll-${i}` })));
  try {
    await Promise.all(clients.map((c) => c.subscribeAsync('roll/#', { qos: 1 })));
    for (const [i, pub] of clients.entries()) {
      await syncRoutes(pub, clients);
      const got = clients.map((c) => new Promise<string>((resolve) => c.on('message', (t, p) => t === `roll/${i}` && resolve(p.toString()))));
      await pub.publishAsync(`roll/${i}`, `from ${i}`, { qos: 1 });
      assert.deepEqual(await Promise.all(got), [`from ${i}`, `from ${i}`, `from ${i}`]);
    }
  } finally {
    await endAll(...clients);
  }
});

/**
 * Multicast discovery over the loopback interface (multicast works on `lo` here; nodes on
 * other hosts use a real interface the same way): three nodes that know only the group
 * and port find each other from their announcements and deliver across nodes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, endAll, freePort } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { logsMatching, startNode, syncRoutes, waitMembers, type ClusterNode } from './cluster-nodes.js';

const nodes: ClusterNode[] = [];

after(() => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
});

test('three nodes find each other by UDP multicast announcements', { timeout: 120_000 }, async () => {
  const mcastPort = await freePort();
  for (let i = 0; i < 3; i++) {
    nodes.push(
      startNode({
        name: `mcast${i}@127.0.0.1`,
        rpcPort: await freePort(),
        mqttPort: await freePort(),
        seeds: [],
        extraEnv: {
          VIREO_CLUSTER__DISCOVERY_STRATEGY: 'mcast',
          VIREO_CLUSTER__MCAST__ADDR: '239.192.0.77',
          VIREO_CLUSTER__MCAST__PORT: String(mcastPort),
          VIREO_CLUSTER__MCAST__IFACE: '127.0.0.1',
          VIREO_CLUSTER__MCAST__TTL: '1',
        },
      }),
    );
  }
  const names = nodes.map((n) => n.name);
  await Promise.all(nodes.map((n) => waitMembers(n, names)));
  for (const n of nodes) assert.equal(logsMatching(n, 'Announcing on multicast').length, 1);

  const [a, , c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const pub = await connect(a.url, { clientId: 'm-pub' });
  const sub = await connect(c.url, { clientId: 'm-sub' });
  try {
    await sub.subscribeAsync('mc/#', { qos: 1 });
    await syncRoutes(pub, [sub]);
    const got = new Promise<string>((resolve) => sub.on('message', (t, p) => t === 'mc/1' && resolve(p.toString())));
    await pub.publishAsync('mc/1', 'by multicast', { qos: 1 });
    assert.equal(await got, 'by multicast');
  } finally {
    await endAll(pub, sub);
  }
});

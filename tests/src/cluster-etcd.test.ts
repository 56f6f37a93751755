/**
 * etcd discovery with a real etcd: three nodes that know only the etcd endpoint (and
 * start before etcd is up) find each other, deliver across nodes, and a stopped node's
 * key leaves etcd.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startNode, syncRoutes, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';
import { startEtcd, type EtcdServer } from './etcd-server.js';

let etcd: EtcdServer | undefined;
const nodes: ClusterNode[] = [];

after(async () => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  await etcd?.stop();
});

test('three nodes find each other through etcd and deliver across nodes', { timeout: 120_000 }, async () => {
  // etcd's port is chosen first, the nodes start, then etcd: they retry until it is there
  const etcdPort = await freePort();
  const prefix = `vireotest${process.pid}`;
  for (let i = 0; i < 3; i++) {
    nodes.push(
      startNode({
        name: `etcd${i}@127.0.0.1`,
        rpcPort: await freePort(),
        mqttPort: await freePort(),
        seeds: [],
        extraEnv: {
          VIREO_CLUSTER__DISCOVERY_STRATEGY: 'etcd',
          VIREO_CLUSTER__ETCD__SERVER: `[http://127.0.0.1:${etcdPort}]`,
          VIREO_CLUSTER__ETCD__PREFIX: prefix,
          VIREO_CLUSTER__ETCD__NODE_TTL: '5s',
        },
      }),
    );
  }
  // the nodes know nothing yet: etcd is not running
  await waitLog(nodes[0]!, 'etcd unreachable, retrying');
  etcd = await startEtcd(etcdPort);
  const names = nodes.map((n) => n.name);
  await Promise.all(nodes.map((n) => waitMembers(n, names, 20_000)));

  const keys = await etcd.list(`${prefix}/nodes/`);
  assert.deepEqual(Object.keys(keys).sort(), names.map((n) => `${prefix}/nodes/${n}`).sort());
  assert.equal(keys[`${prefix}/nodes/${nodes[1]!.name}`], `127.0.0.1:${nodes[1]!.rpcPort}`);

  const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const pub = await connect(a.url, { clientId: 'e-pub' });
  const sub = await connect(c.url, { clientId: 'e-sub' });
  try {
    await sub.subscribeAsync('e/#', { qos: 1 });
    await syncRoutes(pub, [sub]);
    const got = new Promise<string>((resolve) => sub.on('message', (t, p) => t === 'e/1' && resolve(p.toString())));
    await pub.publishAsync('e/1', 'through etcd', { qos: 1 });
    assert.equal(await got, 'through etcd');
  } finally {
    await endAll(pub, sub);
  }

  // a node that stops revokes its lease: its key goes at once, not after the TTL
  b.proc.kill('SIGTERM');
  await b.proc.waitExit();
  await waitFor(async () => !(`${prefix}/nodes/${b.name}` in (await etcd!.list(`${prefix}/nodes/`))), "the stopped node's key gone from etcd", 10_000, 100);
  await waitMembers(a, [a.name, c.name]);
});

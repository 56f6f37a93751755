/**
 * DNS discovery against a real (small, authoritative) DNS server on loopback: three nodes
 * find each other through A records (nodes on 127.0.0.11–13, one cluster port) and
 * through SRV records (one address, three ports), and follow records that change.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, endAll, freePort } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startNode, syncRoutes, waitMembers, type ClusterNode } from './cluster-nodes.js';
import { startDnsServer, type DnsServer } from './dns-server.js';

const T = { timeout: 120_000 };
let dns: DnsServer | undefined;
const nodes: ClusterNode[] = [];

after(async () => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  await dns?.close();
});

async function deliverAcross(a: ClusterNode, c: ClusterNode): Promise<void> {
  const pub = await connect(a.url, { clientId: `d-pub-${a.mqttPort}` });
  const sub = await connect(c.url, { clientId: `d-sub-${c.mqttPort}` });
  try {
    await sub.subscribeAsync('d/#', { qos: 1 });
    await syncRoutes(pub, [sub]);
    const got = new Promise<string>((resolve) => sub.on('message', (t, p) => t === 'd/1' && resolve(p.toString())));
    await pub.publishAsync('d/1', 'through dns', { qos: 1 });
    assert.equal(await got, 'through dns');
  } finally {
    await endAll(pub, sub);
  }
}

async function stopAll(): Promise<void> {
  for (const n of nodes.splice(0)) {
    n.proc.kill('SIGKILL');
    await n.proc.waitExit();
  }
}

test('A records: three nodes on three loopback addresses, one cluster port; a node added to the records joins', T, async () => {
  dns = await startDnsServer();
  const name = 'vireo-a.cluster.test';
  const rpcPort = await freePort();
  const ips = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
  // only two nodes in DNS at first
  dns.a.set(name, ips.slice(0, 2));
  const env = (ip: string) => ({
    VIREO_CLUSTER__DISCOVERY_STRATEGY: 'dns',
    VIREO_CLUSTER__DNS__NAME: name,
    VIREO_CLUSTER__DNS__RECORD_TYPE: 'a',
    VIREO_CLUSTER__DNS__RESOLVER: dns!.address,
    VIREO_CLUSTER__RPC__BIND: `${ip}:${rpcPort}`,
  });
  for (const ip of ips.slice(0, 2)) {
    nodes.push(startNode({ name: `dnsa@${ip}`, rpcPort, mqttPort: await freePort(), seeds: [], extraEnv: env(ip) }));
  }
  await Promise.all(
    nodes.map((n) =>
      waitMembers(
        n,
        nodes.map((m) => m.name),
      ),
    ),
  );
  // the third node is in DNS only once it is up: the others find it on their next round
  const third = startNode({
    name: `dnsa@${ips[2]}`,
    rpcPort,
    mqttPort: await freePort(),
    seeds: [],
    extraEnv: { ...env(ips[2]!), VIREO_CLUSTER__DNS__NAME: 'nothing.cluster.test' },
  });
  nodes.push(third);
  await third.proc.waitForLog('Cluster RPC listening');
  dns.a.set(name, ips);
  const names = nodes.map((n) => n.name);
  await Promise.all(nodes.map((n) => waitMembers(n, names, 15_000)));
  assert.ok(dns.queries.includes(`A ${name}`));
  await deliverAcross(nodes[0]!, third);
  await stopAll();
});

test('SRV records: three nodes on one address with three ports', T, async () => {
  dns ??= await startDnsServer();
  const name = '_vireo._tcp.cluster.test';
  const ports = [await freePort(), await freePort(), await freePort()];
  dns.srv.set(
    name,
    ports.map((port) => ({ target: 'node.cluster.test', port })),
  );
  dns.a.set('node.cluster.test', ['127.0.0.1']);
  for (const [i, port] of ports.entries()) {
    nodes.push(
      startNode({
        name: `dnssrv${i}@127.0.0.1`,
        rpcPort: port,
        mqttPort: await freePort(),
        seeds: [],
        extraEnv: {
          VIREO_CLUSTER__DISCOVERY_STRATEGY: 'dns',
          VIREO_CLUSTER__DNS__NAME: name,
          VIREO_CLUSTER__DNS__RECORD_TYPE: 'srv',
          VIREO_CLUSTER__DNS__RESOLVER: dns.address,
        },
      }),
    );
  }
  const names = nodes.map((n) => n.name);
  await Promise.all(nodes.map((n) => waitMembers(n, names)));
  assert.ok(dns.queries.includes(`SRV ${name}`));
  await deliverAcross(nodes[0]!, nodes[2]!);
  await stopAll();
});

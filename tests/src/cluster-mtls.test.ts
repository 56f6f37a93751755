/**
 * mTLS on the cluster port (`cluster.rpc.driver = ssl`) with real processes: two nodes
 * with certificates of one CA form a cluster and deliver across it; a node whose
 * certificate comes from another CA is refused in the TLS handshake, with a clear log
 * line on both sides, and never joins; a missing certificate file fails start-up naming its key.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { makeCerts, type TestCerts } from './certs.js';
import { connect, endAll, freePort, quietFor } from './harness.js';
import { killAllVireo, spawnVireo } from './vireo-process.js';
import { logsMatching, startNode, syncRoutes, waitLog, waitMembers } from './cluster-nodes.js';

const T = { timeout: 120_000 };
const certs: TestCerts[] = [];

after(() => {
  killAllVireo();
  for (const c of certs) c.remove();
});

const tlsEnv = (c: TestCerts) => ({
  VIREO_CLUSTER__RPC__DRIVER: 'ssl',
  VIREO_CLUSTER__RPC__CERTFILE: c.certFile,
  VIREO_CLUSTER__RPC__KEYFILE: c.keyFile,
  VIREO_CLUSTER__RPC__CACERTFILE: c.caFile,
});

test('two nodes with certificates of the cluster CA join over mTLS; a node with another CA is refused', T, async () => {
  const ours = makeCerts();
  const theirs = makeCerts();
  certs.push(ours, theirs);
  const rpc = [await freePort(), await freePort(), await freePort()];
  const mqtt = [await freePort(), await freePort(), await freePort()];
  // every node lists every other one, the stranger included: both sides dial each other
  const a = startNode({ name: 'tls-a@127.0.0.1', rpcPort: rpc[0]!, mqttPort: mqtt[0]!, seeds: rpc, extraEnv: tlsEnv(ours) });
  const b = startNode({ name: 'tls-b@127.0.0.1', rpcPort: rpc[1]!, mqttPort: mqtt[1]!, seeds: rpc, extraEnv: tlsEnv(ours) });
  const x = startNode({ name: 'tls-x@127.0.0.1', rpcPort: rpc[2]!, mqttPort: mqtt[2]!, seeds: rpc, extraEnv: tlsEnv(theirs) });
  const clients: MqttClient[] = [];
  try {
    const listening = await waitLog(a, 'Cluster RPC listening', () => true, 30_000);
    assert.equal(listening.tls, true);
    await Promise.all([waitMembers(a, [a.name, b.name], 30_000), waitMembers(b, [a.name, b.name], 30_000)]);

    const sub = await connect(b.url, { clientId: 'tls-sub' });
    const pub = await connect(a.url, { clientId: 'tls-pub' });
    clients.push(sub, pub);
    await sub.subscribeAsync('tls/t', { qos: 1 });
    await syncRoutes(pub, [sub]);
    const got = new Promise<string>((resolve) => sub.once('message', (_t, p) => resolve(p.toString())));
    await pub.publishAsync('tls/t', 'over mTLS', { qos: 1 });
    assert.equal(await got, 'over mTLS');

    // the stranger's dials and ours to it fail in the handshake, and each side says why
    const onA = await waitLog(a, 'TLS handshake with cluster peer failed', (l) => l.peer === `127.0.0.1:${rpc[2]}`, 15_000);
    assert.equal(onA.level, 'error');
    await waitLog(x, 'TLS handshake with cluster peer failed', (l) => l.peer === `127.0.0.1:${rpc[0]}`, 15_000);
    // and the dialled side says who it refused
    const refused = await waitLog(a, 'Refused cluster peer: TLS handshake failed', () => true, 15_000);
    assert.equal(refused.level, 'error');
    assert.match(String(refused.peer), /^127\.0\.0\.1:\d+$/);
    // another discovery round (2 s): still refused, and said once per address
    await quietFor(2500, () => logsMatching(a, 'TLS handshake with cluster peer failed', (l) => l.peer === `127.0.0.1:${rpc[2]}`).length === 1, 'the handshake failure said once');
    for (const n of [a, b])
      assert.deepEqual(
        logsMatching(n, 'Cluster node running', (l) => l.peer_node === x.name),
        [],
      );
    assert.deepEqual(logsMatching(x, 'Cluster node running'), []);
  } finally {
    await endAll(...clients);
    for (const n of [a, b, x]) n.proc.kill('SIGKILL');
  }
});

test('cluster.rpc.driver = ssl without its files fails start-up naming the key', T, async () => {
  const p = spawnVireo({
    env: {
      VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${await freePort()}`,
      VIREO_CLUSTER__RPC__DRIVER: 'ssl',
      VIREO_CLUSTER__RPC__CERTFILE: '/nonexistent/node.pem',
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${await freePort()}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
    },
  });
  const exit = await p.waitExit(20_000);
  assert.equal(exit.code, 2);
  assert.match(p.stderr(), /cluster\.rpc\.certfile: cannot read \/nonexistent\/node\.pem \(ENOENT\)/);
  assert.match(p.stderr(), /cluster\.rpc\.keyfile: cluster\.rpc\.driver = ssl needs certfile, keyfile and cacertfile/);
});

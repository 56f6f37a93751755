/**
 * Kubernetes discovery against a stand-in API server (HTTPS, real EndpointSlice JSON):
 * three nodes on three loopback addresses find each other from the Service's ready
 * endpoints, with the right path, token and CA; a token without RBAC gets a log line
 * that says what to grant.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, endAll, freePort } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startNode, syncRoutes, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';
import { startFakeApiServer, type FakeApiServer } from './k8s-api.js';

let api: FakeApiServer | undefined;
const nodes: ClusterNode[] = [];

after(async () => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  await api?.close();
});

test("three nodes form a cluster from a Service's EndpointSlices; a token without RBAC is told what to grant", { timeout: 120_000 }, async () => {
  const ips = ['127.0.0.21', '127.0.0.22', '127.0.0.23'];
  api = await startFakeApiServer({
    namespace: 'mqtt',
    service: 'vireo-headless',
    token: 'good-token',
    // a pod that is not ready is not a peer
    endpoints: [...ips.map((ip, i) => ({ ip, hostname: `vireo-${i}`, ready: true })), { ip: '127.0.0.29', hostname: 'vireo-9', ready: false }],
  });
  const rpcPort = await freePort();
  const env = (ip: string, token: string) => ({
    VIREO_CLUSTER__DISCOVERY_STRATEGY: 'k8s',
    VIREO_CLUSTER__K8S__APISERVER: api!.url,
    VIREO_CLUSTER__K8S__SERVICE_NAME: 'vireo-headless',
    VIREO_CLUSTER__K8S__NAMESPACE: 'mqtt',
    VIREO_CLUSTER__K8S__ADDRESS_TYPE: 'ip',
    VIREO_CLUSTER__K8S__TOKEN_FILE: api!.tokenFile(token),
    VIREO_CLUSTER__K8S__CA_FILE: api!.caFile,
    VIREO_CLUSTER__RPC__BIND: `${ip}:${rpcPort}`,
  });
  for (const ip of ips) nodes.push(startNode({ name: `k8s@${ip}`, rpcPort, mqttPort: await freePort(), seeds: [], extraEnv: env(ip, 'good-token') }));
  const names = nodes.map((n) => n.name);
  await Promise.all(nodes.map((n) => waitMembers(n, names)));

  const slicePath = '/apis/discovery.k8s.io/v1/namespaces/mqtt/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dvireo-headless';
  assert.ok(api.requests.length >= 3);
  for (const r of api.requests) {
    assert.equal(r.path, slicePath);
    assert.equal(r.authorization, 'Bearer good-token');
  }
  for (const n of nodes) assert.equal(n.proc.stdout().includes('127.0.0.29'), false, 'the not-ready pod is never dialled');

  const [a, , c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const pub = await connect(a.url, { clientId: 'k-pub' });
  const sub = await connect(c.url, { clientId: 'k-sub' });
  try {
    await sub.subscribeAsync('k8s/#', { qos: 1 });
    await syncRoutes(pub, [sub]);
    const got = new Promise<string>((resolve) => sub.on('message', (t, p) => t === 'k8s/1' && resolve(p.toString())));
    await pub.publishAsync('k8s/1', 'through the API server', { qos: 1 });
    assert.equal(await got, 'through the API server');
  } finally {
    await endAll(pub, sub);
  }

  // RBAC missing: the API server answers 403, the node says what its service account needs
  const denied = startNode({ name: 'k8s@127.0.0.24', rpcPort, mqttPort: await freePort(), seeds: [], extraEnv: env('127.0.0.24', 'no-rbac-token') });
  nodes.push(denied);
  const line = await waitLog(denied, 'Kubernetes discovery failed');
  assert.equal(line.level, 'error');
  assert.match(String(line.msg), /refused \(403\).*needs get\/list on endpointslices .* in namespace "mqtt"/);
});

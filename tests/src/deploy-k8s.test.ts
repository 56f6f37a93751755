/**
 * The Kubernetes files as an operator applies them: every overlay rendered by `kubectl
 * kustomize`, with the Secrets docs/deployment.md tells how to create, validated against the
 * configuration contract, and its pod started as a real node from the rendered environment
 * and mounted files (the prod overlay's first users, ACL and authentication tried with MQTT
 * clients). The addons (ServiceMonitor, HPA) are checked
 * against the overlays and against what a node serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { parse } from 'yaml';
import { ConfigError, loadConfig, type VireoConfig } from '@vireo/server';
import { endAll, freePort, waitFor } from './harness.js';
import { connackCode } from './ctl-run.js';
import { spawnVireo } from './vireo-process.js';
import { AVAILABILITY_CHECK } from './lb-proxy.js';
import { aclFile, loginRequired } from './deploy-access.js';
import { documentedSessionsPerNode, evacuationBudget } from './deploy-budget.js';
import { NO_KUBECTL, containerEnv, documentedSecrets, materializeMounts, one, remap, render, repoFile, type Container, type K8sObject, type PodSpec } from './k8s-render.js';

const skip = NO_KUBECTL;
const OVERLAYS = ['k8s/overlays/dev', 'k8s/overlays/prod'];

function assertValidConfig(where: string, env: Record<string, string>): VireoConfig {
  try {
    return loadConfig({ env: Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('VIREO_'))) }).config;
  } catch (err) {
    if (err instanceof ConfigError) assert.fail(`${where}: ${err.message}`);
    throw err;
  }
}

interface Overlay {
  objs: K8sObject[];
  sts: K8sObject;
  spec: PodSpec;
  container: Container;
  env: Record<string, string>;
  cfg: VireoConfig;
  secrets: Map<string, Record<string, string>>;
}

// each kustomization rendered once per file, and the documented Secrets made once: each
// render and each kubectl run costs a process
const rendered = new Map<string, K8sObject[]>();
const renderOnce = (dir: string) => rendered.get(dir) ?? rendered.set(dir, render(dir)).get(dir)!;
let secretsMade: Map<string, Record<string, string>> | undefined;

function overlay(dir: string): Overlay {
  const objs = renderOnce(dir);
  const secrets = (secretsMade ??= documentedSecrets());
  const sts = one(objs, 'StatefulSet');
  const spec = sts.spec!.template!.spec;
  const container = spec.containers.find((c) => c.name === 'vireo')!;
  // the pod vireo-0 in namespace "mqtt"
  const env = containerEnv(objs, secrets, container, 'vireo-0', 'mqtt');
  return { objs, sts, spec, container, env, cfg: assertValidConfig(`${dir} vireo-0`, env), secrets };
}

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

for (const dir of OVERLAYS) {
  test(`${dir}: renders with kubectl; the pod's environment validates; discovery, ports, probes, PDB, grace period; no secret value committed`, { skip }, () => {
    const { objs, sts, spec, container, env, cfg, secrets } = overlay(dir);
    const kinds = new Set(objs.map((o) => o.kind));
    for (const k of ['ConfigMap', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'StatefulSet']) assert.ok(kinds.has(k), `${k} present`);
    assert.ok(!kinds.has('Secret'), 'no Secret is committed: operators create them (docs/deployment.md#secrets)');
    // the cookie comes from the Secret, and the documented command makes a long random one
    const cookieVar = container.env?.find((e) => e.name === 'VIREO_NODE__COOKIE');
    assert.ok(cookieVar?.valueFrom?.secretKeyRef, 'node.cookie comes from a Secret');
    assert.equal(cookieVar.value, undefined);
    assert.ok(cfg.node.cookie.length >= 32 && secrets.get(cookieVar.valueFrom.secretKeyRef.name)?.[cookieVar.valueFrom.secretKeyRef.key] === cfg.node.cookie);
    assert.notEqual(documentedSecrets().get('vireo-secrets')?.cookie, cfg.node.cookie, 'each run of the documented command makes another cookie');

    // k8s discovery reads the headless Service the StatefulSet names its pods under, and
    // sees pods before they are ready
    assert.equal(cfg.cluster.discovery_strategy, 'k8s');
    const headless = one(objs, 'Service', cfg.cluster.k8s.service_name);
    assert.equal(headless.spec?.clusterIP, 'None');
    assert.equal(headless.spec?.publishNotReadyAddresses, true);
    assert.equal(sts.spec?.serviceName, cfg.cluster.k8s.service_name);
    assert.equal(cfg.cluster.k8s.namespace, 'mqtt', 'the namespace comes from the pod');
    // the address discovery dials for this pod (address_type hostname) is its own node
    // name's host: peers recognise it as the same node instead of dialling it twice
    assert.equal(cfg.cluster.k8s.address_type, 'hostname');
    assert.equal(cfg.node.name, `vireo@vireo-0.${cfg.cluster.k8s.service_name}.${cfg.cluster.k8s.namespace}.svc.${cfg.cluster.k8s.suffix}`);
    assert.ok(
      one(objs, 'Role').rules?.some((r) => r.resources.includes('endpointslices') && r.verbs.includes('list')),
      'the Role lets discovery list EndpointSlices',
    );
    assert.equal(spec.serviceAccountName, one(objs, 'ServiceAccount').metadata.name);

    const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]));
    assert.deepEqual(ports, {
      mqtt: cfg.listeners.tcp.default.bind.port,
      ws: cfg.listeners.ws.default.bind.port,
      http: cfg.dashboard.listeners.http.bind.port,
      cluster: cfg.cluster.rpc.bind.port,
    });
    assert.equal(container.readinessProbe?.httpGet?.port, 'http', 'a readiness probe on the HTTP API');
    assert.equal(container.livenessProbe?.httpGet?.port, 'http');
    assert.notEqual(container.readinessProbe.httpGet.path, container.livenessProbe.httpGet.path, 'readiness is not liveness');

    const pdb = one(objs, 'PodDisruptionBudget');
    assert.ok(selects((pdb.spec?.selector as { matchLabels?: Record<string, string> }).matchLabels, sts.spec?.template?.metadata?.labels), 'the PDB selects the nodes');
    assert.equal(pdb.spec?.maxUnavailable, 1);

    // SIGTERM evacuates (the node hands its clients and sessions to the others), and
    // Kubernetes waits long enough for the documented sessions at the pod's own rates
    assert.equal(cfg.node.evacuate_on_shutdown, true, 'node.evacuate_on_shutdown is on');
    const budget = evacuationBudget(cfg, documentedSessionsPerNode());
    assert.ok((spec.terminationGracePeriodSeconds ?? 30) >= budget, `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} covers evacuation (${budget} s)`);

    // MQTT leaves the cluster only where clients must log in and the ACL is on
    for (const svc of objs.filter((o) => o.kind === 'Service')) {
      const type = (svc.spec?.type as string | undefined) ?? 'ClusterIP';
      const targets = ((svc.spec?.ports as { targetPort?: string | number }[] | undefined) ?? []).map((p) => p.targetPort);
      if ((type === 'LoadBalancer' || type === 'NodePort') && targets.some((t) => t === 'mqtt' || t === 'ws')) {
        assert.ok(loginRequired(cfg), `${svc.metadata.name} publishes MQTT: clients must log in`);
        assert.ok(aclFile(cfg), `${svc.metadata.name} publishes MQTT: an ACL is on`);
      }
    }
    assert.ok(env.VIREO_NODE__DATA_DIR && container.volumeMounts?.some((m) => m.mountPath === env.VIREO_NODE__DATA_DIR), 'the data dir is on the volume');
  });
}

test("k8s/overlays/prod: three nodes on three Kubernetes nodes, resources, authentication and EMQX's default ACL, MQTT on a LoadBalancer", { skip }, () => {
  const { objs, sts, spec, container, cfg, secrets } = overlay('k8s/overlays/prod');
  assert.equal(sts.spec?.replicas, 3);
  const anti = spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  assert.ok(
    anti.some((t) => t.topologyKey === 'kubernetes.io/hostname' && selects(t.labelSelector?.matchLabels, sts.spec?.template?.metadata?.labels)),
    'no two nodes on one machine',
  );
  assert.ok(container.resources?.requests?.cpu && container.resources.requests.memory && container.resources.limits?.memory, 'CPU and memory requested, memory limited');
  assert.equal(one(objs, 'Service', 'vireo').spec?.type, 'LoadBalancer');
  // the load balancer stops sending clients to a node that is not ready or gives load away
  assert.equal(container.readinessProbe?.httpGet?.path, AVAILABILITY_CHECK);
  assert.ok(loginRequired(cfg));
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-k8s-'));
  try {
    const mounts = materializeMounts(objs, secrets, spec, container, dir);
    const acl = remap(aclFile(cfg)!, mounts);
    assert.equal(readFileSync(acl, 'utf8'), readFileSync(repoFile('deploy/acl.yaml'), 'utf8'), 'the pod reads deploy/acl.yaml');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('k8s/overlays/dev: one node, MQTT not published outside the cluster', { skip }, () => {
  const { objs, sts } = overlay('k8s/overlays/dev');
  assert.equal(sts.spec?.replicas, 1);
  for (const svc of objs.filter((o) => o.kind === 'Service'))
    assert.ok(['ClusterIP', undefined].includes(svc.spec?.type as string | undefined), `${svc.metadata.name} stays inside`);
});

test("deploy/acl.yaml is EMQX's default acl.conf, rule for rule", () => {
  const rules = parse(readFileSync(repoFile('deploy/acl.yaml'), 'utf8')) as unknown;
  assert.deepEqual(rules, [
    { permission: 'allow', who: { username: { re: '^dashboard$' } }, action: 'subscribe', topics: ['$SYS/#'] },
    { permission: 'allow', who: { ipaddr: '127.0.0.1' }, action: 'all', topics: ['$SYS/#', '#'] },
    { permission: 'deny', action: 'subscribe', topics: ['$SYS/#', { eq: '#' }, { eq: '+/#' }] },
    { permission: 'allow' },
  ]);
});

test('k8s/addons/monitoring: the ServiceMonitor scrapes the API Service of every overlay on its http port', { skip }, () => {
  const [sm] = renderOnce('k8s/addons/monitoring');
  assert.equal(sm.kind, 'ServiceMonitor');
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  const spec = sm.spec as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
  for (const dir of OVERLAYS) {
    const { objs, container } = overlay(dir);
    const picked = objs.filter((o) => o.kind === 'Service' && selects(spec.selector.matchLabels, o.metadata.labels));
    assert.equal(picked.length, 1, `${dir}: the ServiceMonitor selects one Service (one target per pod, not three)`);
    const ports = picked[0].spec?.ports as { name: string; targetPort: string | number }[];
    for (const ep of spec.endpoints) {
      const port = ports.find((p) => p.name === ep.port);
      assert.ok(port, `${dir}: Service ${picked[0].metadata.name} has a port named ${ep.port}`);
      assert.equal(port.targetPort, 'http', 'it reaches the container port of the HTTP API');
      assert.ok(container.ports?.some((p) => p.name === 'http'));
    }
  }
});

test("k8s/addons/hpa: scales the StatefulSet out on the adapter's connection metric, within the documented size, in one node at a time", { skip }, () => {
  const [hpa] = renderOnce('k8s/addons/hpa');
  assert.equal(hpa.kind, 'HorizontalPodAutoscaler');
  const spec = hpa.spec as {
    scaleTargetRef: { kind: string; name: string };
    minReplicas: number;
    metrics: { type: string; pods: { metric: { name: string }; target: { type: string; averageValue: string } } }[];
    behavior: { scaleDown: { selectPolicy?: string; policies?: { type: string; value: number; periodSeconds: number }[] } };
  };
  const { sts, spec: pod, cfg } = overlay('k8s/overlays/prod');
  assert.deepEqual([spec.scaleTargetRef.kind, spec.scaleTargetRef.name], ['StatefulSet', sts.metadata.name]);
  assert.ok(spec.minReplicas >= (sts.spec?.replicas ?? 1), "never below the overlay's nodes");
  const [m] = spec.metrics;
  assert.equal(m.type, 'Pods');
  assert.ok(Number(m.pods.target.averageValue) <= documentedSessionsPerNode(), 'scales out before a node holds more than it is sized for');
  // prometheus-adapter's rule turns a node's series into the metric the HPA reads
  const rules = parse(readFileSync(repoFile('k8s/addons/hpa/prometheus-adapter-rules.yaml'), 'utf8')) as {
    rules: { custom: { seriesQuery: string; name: { matches: string; as: string } }[] };
  };
  const served = rules.rules.custom.map((r) => {
    const series = /^'?([a-z_:][a-z0-9_:]*)\{/.exec(r.seriesQuery)![1];
    return { series, as: series.replace(new RegExp(r.name.matches), r.name.as.replace(/\$\{(\d)\}/g, '$$$1')) };
  });
  const rule = served.find((s) => s.as === m.pods.metric.name);
  assert.ok(rule, `an adapter rule serves ${m.pods.metric.name}`);
  assert.equal(rule.series, HPA_SERIES, 'the series the live test checks a node exports');
  // it scales in only nodes that evacuate, one at a time, each given the time to
  const down = spec.behavior.scaleDown;
  assert.notEqual(down.selectPolicy, 'Disabled');
  assert.equal(cfg.node.evacuate_on_shutdown, true, 'a node removed evacuates');
  assert.deepEqual(
    down.policies?.map((p) => [p.type, p.value]),
    [['Pods', 1]],
    'one node at a time',
  );
  assert.ok(down.policies![0]!.periodSeconds >= (pod.terminationGracePeriodSeconds ?? 30), 'the next node goes after the last one had all its grace period');
});

/** The series the HPA example scales on (checked exported, as a gauge, by the live tests). */
const HPA_SERIES = 'vireo_live_connections_count';

/** A raw MQTT.js client whose TCP connection leaves from `localAddress` (another loopback address than 127.0.0.1). */
function connectFrom(localAddress: string, port: number, opts: IClientOptions): Promise<MqttClient> {
  const client = new mqtt.MqttClient(() => net.createConnection({ host: '127.0.0.1', port, localAddress }), { reconnectPeriod: 0, protocolVersion: 5, ...opts });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (client.end(true), reject(new Error('no CONNACK within 5 s'))), 5000);
    client.once('connect', () => (clearTimeout(timer), resolve(client)));
    client.once('error', (err) => (clearTimeout(timer), client.end(true), reject(err)));
  });
}

async function subackCodes(c: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(Object.fromEntries(topics.map((t) => [t, { qos: 1 as const }])))).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (!granted) throw err;
    return granted;
  }
}

async function until200(url: string, ms: number): Promise<void> {
  let status = 0;
  const ok = async () =>
    (status = await fetch(url).then(
      (r) => r.status,
      () => 0,
    )) === 200;
  await waitFor(ok, `${url} to answer 200`, ms, 100).catch((err: Error) => {
    throw new Error(`${err.message} (${ms} ms, last: ${status})`);
  });
}

/**
 * The overlay's pod vireo-0 as a real node: its rendered environment and mounted files, with
 * what only a cluster gives replaced (free ports on 127.0.0.1, its own data dir, no peers).
 */
async function startPod(dir: string, root: string) {
  const o = overlay(dir);
  const mounts = materializeMounts(o.objs, o.secrets, o.spec, o.container, root);
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const env = Object.fromEntries(Object.entries(o.env).map(([k, v]) => [k, remap(v, mounts)]));
  Object.assign(env, {
    VIREO_NODE__DATA_DIR: path.join(root, 'data'),
    VIREO_CLUSTER__DISCOVERY_STRATEGY: 'manual',
    VIREO_CLUSTER__RPC__BIND: '127.0.0.1:0',
    VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${mqttPort}`,
    VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
    VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${httpPort}`,
  });
  const node = spawnVireo({ env });
  const http = `http://127.0.0.1:${httpPort}`;
  await until200(`${http}${o.container.readinessProbe!.httpGet!.path}`, 60_000);
  assert.equal((await fetch(`${http}${o.container.livenessProbe!.httpGet!.path}`)).status, 200, 'liveness answers');
  const [sm] = renderOnce('k8s/addons/monitoring');
  const scrape = await fetch(`${http}${(sm.spec as { endpoints: { path: string }[] }).endpoints[0].path}`);
  assert.equal(scrape.status, 200, "the ServiceMonitor's path is scraped without credentials");
  assert.match(await scrape.text(), new RegExp(`^# TYPE ${HPA_SERIES} gauge$`, 'm'), "the HPA's series is exported");
  return { o, node, mqttPort, httpPort, http, mounts };
}

test('k8s/overlays/dev as a real node: ready, scraped, clients connect without credentials (reachable only inside the cluster)', { skip, timeout: 120_000 }, async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vireo-k8s-dev-'));
  let node: ReturnType<typeof spawnVireo> | undefined;
  try {
    const pod = await startPod('k8s/overlays/dev', root);
    node = pod.node;
    assert.equal(await connackCode(`mqtt://127.0.0.1:${pod.mqttPort}`, { clientId: 'dev-anon' }), 0);
  } finally {
    node?.kill();
    await node?.waitExit(20_000);
    rmSync(root, { recursive: true, force: true });
  }
});

test("k8s/overlays/prod as a real node: the Secret's first user logs in, anonymous and wrong passwords refused, EMQX's default ACL holds", { skip, timeout: 120_000 }, async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vireo-k8s-prod-'));
  let node: ReturnType<typeof spawnVireo> | undefined;
  const clients: MqttClient[] = [];
  try {
    const pod = await startPod('k8s/overlays/prod', root);
    node = pod.node;
    const url = `mqtt://127.0.0.1:${pod.mqttPort}`;
    // the user the documented command put in the Secret's CSV
    const csv = pod.o.secrets.get('vireo-mqtt-users')?.['users.csv'];
    assert.ok(csv, "docs/deployment.md creates the first users' Secret");
    const [header, first] = csv.trim().split('\n');
    assert.equal(header, 'user_id,password,is_superuser');
    const [username, password, superuser] = first.split(',');
    assert.equal(superuser, 'false', 'the first user is no superuser: the ACL applies to it');
    assert.ok(password.length >= 24, 'a random password');
    const user = { username, password };

    assert.equal(await connackCode(url, { clientId: 'anon', protocolVersion: 5 }), 0x87, 'anonymous: Not authorized');
    assert.equal(await connackCode(url, { clientId: 'wrong', username: user.username, password: 'not-it', protocolVersion: 5 }), 0x86, 'wrong password: Bad user name or password');
    assert.equal(await connackCode(url, { clientId: 'fleet-1', username: user.username, password: user.password, protocolVersion: 5 }), 0, 'the first user logs in');
    // from another address than the node's own: EMQX's default rules for everybody
    const device = await connectFrom('127.0.0.2', pod.mqttPort, { clientId: 'device-1', username: user.username, password: user.password });
    clients.push(device);
    assert.deepEqual(await subackCodes(device, ['#', '+/#', '$SYS/brokers/#', 'devices/+/status', 'demo/#']), [0x87, 0x87, 0x87, 1, 1]);
    // from 127.0.0.1 (kubectl port-forward, inside the pod): everything, as EMQX's second rule
    const local = await connectFrom('127.0.0.1', pod.mqttPort, { clientId: 'local', username: user.username, password: user.password });
    clients.push(local);
    assert.deepEqual(await subackCodes(local, ['#', '$SYS/brokers/#']), [1, 1]);
  } finally {
    await endAll(...clients);
    node?.kill();
    await node?.waitExit(20_000);
    rmSync(root, { recursive: true, force: true });
  }
});

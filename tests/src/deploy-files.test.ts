/** The shipped Grafana dashboard and Prometheus scrape config agree with what a node exports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { ConfigError, loadConfig, type VireoConfig } from '@vireo/server';
import { startAdmin, ApiKeys } from '@vireo/admin';
import { freePort, startBroker } from './harness.js';

const deploy = (f: string) => fileURLToPath(new URL(`../../deploy/${f}`, import.meta.url));

test('every metric the Grafana dashboard queries is in a real scrape, at the path prometheus.yml scrapes', { timeout: 20_000 }, async () => {
  const dashboard = JSON.parse(readFileSync(deploy('grafana/vireo.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const used = new Set<string>();
  for (const p of dashboard.panels) for (const t of p.targets) for (const m of t.expr.matchAll(/\bvireo_[a-z0-9_]+/g)) used.add(m[0]);
  assert.ok(used.size >= 15, 'the dashboard queries the broker metrics');

  const prom = parse(readFileSync(deploy('prometheus.yml'), 'utf8')) as { scrape_configs: { metrics_path: string }[] };
  const path = prom.scrape_configs[0].metrics_path;

  const tb = await startBroker({ nodeName: 'vireo@deploy-test' });
  const admin = await startAdmin(tb.broker, { host: '127.0.0.1', port: await freePort(), apiKeys: new ApiKeys(), prometheusAuth: false });
  try {
    const res = await fetch(`http://127.0.0.1:${admin.address().port}${path}`);
    assert.equal(res.status, 200);
    const exported = new Set([...(await res.text()).matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    // a histogram's series are <name>_bucket, _sum and _count; a counter's may end in _total
    const missing = [...used].filter((m) => !exported.has(m) && !exported.has(m.replace(/_(total|bucket|sum|count)$/, '')));
    assert.deepEqual(missing, [], 'metrics the dashboard uses but the node does not export');
  } finally {
    await admin.close();
    await tb.close();
  }
});

const root = (f: string) => fileURLToPath(new URL(`../../${f}`, import.meta.url));

/** `${VAR:-default}` → default, as compose would without VAR set. */
const composeDefaults = (v: string) => v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

function assertValidConfig(where: string, env: Record<string, string>): VireoConfig {
  try {
    return loadConfig({ env }).config;
  } catch (err) {
    if (err instanceof ConfigError) assert.fail(`${where}: ${err.message}`);
    throw err;
  }
}

test('docker-compose.yml: every node validates against the configuration contract, with distinct names and the image data dir', () => {
  const compose = parse(readFileSync(root('docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string>; ports?: string[]; volumes?: string[] }>;
  };
  const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
  const imageDataDir = /VIREO_NODE__DATA_DIR=(\S+)/.exec(dockerfile)?.[1];
  const names = new Set<string>();
  const nodes = Object.entries(compose.services).filter(([name]) => name.startsWith('vireo'));
  assert.equal(nodes.length, 3);
  for (const [name, svc] of nodes) {
    const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, composeDefaults(String(v))]));
    const cfg = assertValidConfig(`docker-compose ${name}`, env);
    names.add(cfg.node.name);
    assert.equal(cfg.cluster.discovery_strategy, 'etcd');
    assert.ok(svc.ports?.some((p) => p.endsWith(`:${cfg.listeners.tcp.default.bind.port}`)), `${name} publishes the MQTT port`);
    assert.ok(svc.volumes?.some((v) => v.endsWith(`:${imageDataDir}`)), `${name} keeps its data dir on a volume`);
  }
  assert.equal(names.size, 3, 'node names are distinct');
  assert.ok(compose.services.etcd && compose.services.prometheus);
});

test('k8s manifests: the pod environment validates, ports and probes match what a node serves', () => {
  const docs = parseAllDocuments(['configmap.yaml', 'statefulset.yaml', 'services.yaml', 'pdb.yaml', 'rbac.yaml'].map((f) => readFileSync(root(`k8s/${f}`), 'utf8')).join('\n---\n')).map((d) => d.toJS() as K8sObject);
  const kinds = docs.map((d) => d.kind).sort();
  for (const k of ['ConfigMap', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Secret', 'Service', 'ServiceAccount', 'StatefulSet']) assert.ok(kinds.includes(k), `${k} present`);
  const cm = docs.find((d) => d.kind === 'ConfigMap')!;
  const secret = docs.find((d) => d.kind === 'Secret')!;
  const sts = docs.find((d) => d.kind === 'StatefulSet')!;
  const container = sts.spec!.template!.spec!.containers![0];
  const env: Record<string, string> = { ...(cm.data ?? {}) };
  // the pod vireo-0 in namespace "mqtt": what the downward API and $(VAR) expansion give it
  const fields: Record<string, string> = { 'metadata.name': 'vireo-0', 'metadata.namespace': 'mqtt' };
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\((\w+)\)/g, (_, v: string) => env[v] ?? `$(${v})`);
    else if (e.valueFrom?.secretKeyRef) env[e.name] = secret.stringData![e.valueFrom.secretKeyRef.key];
    else if (e.valueFrom?.fieldRef) env[e.name] = fields[e.valueFrom.fieldRef.fieldPath]!;
  }
  const cfg = assertValidConfig('k8s vireo-0', Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('VIREO_'))));
  // k8s discovery reads the headless Service the StatefulSet names its pods under, and sees
  // pods before they are ready
  assert.equal(cfg.cluster.discovery_strategy, 'k8s');
  const headless = docs.find((d) => d.kind === 'Service' && d.metadata?.name === cfg.cluster.k8s.service_name);
  assert.ok(headless, `a Service named ${cfg.cluster.k8s.service_name}`);
  assert.equal(headless.spec?.clusterIP, 'None');
  assert.equal(headless.spec?.publishNotReadyAddresses, true);
  assert.equal(sts.spec?.serviceName, cfg.cluster.k8s.service_name);
  assert.equal(cfg.cluster.k8s.namespace, 'mqtt', 'the namespace comes from the pod');
  // the address discovery dials for this pod (address_type hostname) is its own node name's
  // host: peers recognise it as the same node instead of dialling it twice
  assert.equal(cfg.cluster.k8s.address_type, 'hostname');
  const dialled = `vireo-0.${cfg.cluster.k8s.service_name}.${cfg.cluster.k8s.namespace}.svc.${cfg.cluster.k8s.suffix}`;
  assert.equal(cfg.node.name, `vireo@${dialled}`);
  const role = docs.find((d) => d.kind === 'Role');
  assert.ok(role?.rules?.some((r) => r.resources.includes('endpointslices') && r.verbs.includes('list')), 'the Role lets discovery list EndpointSlices');
  const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]));
  assert.deepEqual(ports, {
    mqtt: cfg.listeners.tcp.default.bind.port,
    ws: cfg.listeners.ws.default.bind.port,
    http: cfg.dashboard.listeners.http.bind.port,
    cluster: cfg.cluster.rpc.bind.port,
  });
  assert.equal(container.readinessProbe?.httpGet?.path, '/api/v5/status');
  assert.equal(container.livenessProbe?.httpGet?.path, '/status');
});

test('Dockerfile: exposes the default ports and starts the built command', () => {
  const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
  const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)![1].split(/\s+/).map(Number).sort((a, b) => a - b);
  const cfg = assertValidConfig('defaults', {});
  const defaults = [
    cfg.listeners.tcp.default.bind.port,
    cfg.listeners.ws.default.bind.port,
    cfg.listeners.ssl.default.bind.port,
    cfg.listeners.wss.default.bind.port,
    cfg.dashboard.listeners.http.bind.port,
    cfg.cluster.rpc.bind.port,
  ].sort((a, b) => a - b);
  assert.deepEqual(exposed, defaults);
  assert.match(dockerfile, /ENTRYPOINT \["node", "packages\/server\/dist\/cli\.js"\]/);
  assert.ok(existsSync(root('packages/server/dist/cli.js')), 'the entrypoint is what the build produces');
});

interface K8sObject {
  kind: string;
  metadata?: { name?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  rules?: { resources: string[]; verbs: string[] }[];
  spec?: {
    replicas?: number;
    serviceName?: string;
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
    template?: {
      spec?: {
        containers?: {
          env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string }; fieldRef?: { fieldPath: string } } }[];
          ports?: { name: string; containerPort: number }[];
          readinessProbe?: { httpGet?: { path: string } };
          livenessProbe?: { httpGet?: { path: string } };
        }[];
      };
    };
  };
}

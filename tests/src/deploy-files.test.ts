/**
 * The shipped Grafana dashboard and Prometheus scrape config agree with what a node exports;
 * docker-compose.yml and the Dockerfile agree with the configuration contract and carry no
 * secret. (The Kubernetes files: deploy-k8s.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ConfigError, loadConfig, type VireoConfig } from '@vireo/server';
import { startAdmin, ApiKeys } from '@vireo/admin';
import { freePort, startBroker } from './harness.js';
import { aclFile, loginRequired } from './deploy-access.js';
import { documentedSessionsPerNode, evacuationBudget } from './deploy-budget.js';

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

/**
 * Compose's interpolation for a run with `vars` set: `${VAR:-default}` and `${VAR:?error}`
 * (which stops compose with the error when VAR is unset).
 */
function interpolate(v: string, vars: Record<string, string>): string {
  return v.replace(/\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string) => {
    if (vars[name] !== undefined && vars[name] !== '') return vars[name];
    if (op === '-') return arg;
    throw new Error(`compose stops: ${name} is unset (${arg})`);
  });
}

function assertValidConfig(where: string, env: Record<string, string>): VireoConfig {
  try {
    return loadConfig({ env }).config;
  } catch (err) {
    if (err instanceof ConfigError) assert.fail(`${where}: ${err.message}`);
    throw err;
  }
}

test('docker-compose.yml: every node validates against the configuration contract, with distinct names, the image data dir, the ACL, and no default secret', () => {
  const text = readFileSync(root('docker-compose.yml'), 'utf8');
  const compose = parse(text, { merge: true }) as {
    services: Record<string, { environment?: Record<string, string>; ports?: string[]; volumes?: string[]; stop_grace_period?: string }>;
    secrets: Record<string, { file: string }>;
  };
  const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
  const imageDataDir = /VIREO_NODE__DATA_DIR=(\S+)/.exec(dockerfile)?.[1];
  const vars = { VIREO_COOKIE: randomBytes(32).toString('hex'), VIREO_API_KEYS_FILE: '/tmp/keys' };
  const names = new Set<string>();
  const nodes = Object.entries(compose.services).filter(([name]) => name.startsWith('vireo'));
  assert.equal(nodes.length, 3);
  for (const [name, svc] of nodes) {
    const raw = svc.environment ?? {};
    // the cookie is the operator's: compose refuses to start without it
    assert.match(String(raw.VIREO_NODE__COOKIE), /^\$\{VIREO_COOKIE:\?[^}]+\}$/, `${name}: the cookie comes from a required variable`);
    assert.throws(() => interpolate(String(raw.VIREO_NODE__COOKIE), {}), /VIREO_COOKIE is unset/);
    const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v), vars)]));
    const cfg = assertValidConfig(`docker-compose ${name}`, env);
    assert.equal(cfg.node.cookie, vars.VIREO_COOKIE);
    names.add(cfg.node.name);
    assert.equal(cfg.cluster.discovery_strategy, 'etcd');
    const mqttPort = cfg.listeners.tcp.default.bind.port;
    const published = (svc.ports ?? []).filter((p) => p.endsWith(`:${mqttPort}`));
    assert.equal(published.length, 1, `${name} publishes the MQTT port`);
    // authentication is off here: published on this machine only
    if (!loginRequired(cfg)) for (const p of svc.ports ?? []) assert.match(p, /^127\.0\.0\.1:/, `${name}: ${p} is on 127.0.0.1 only`);
    assert.ok(
      svc.volumes?.some((v) => v.endsWith(`:${imageDataDir}`)),
      `${name} keeps its data dir on a volume`,
    );
    // `docker compose stop` gives it the time to evacuate the sessions it is sized for
    assert.equal(cfg.node.evacuate_on_shutdown, true, `${name}: node.evacuate_on_shutdown is on`);
    const grace = /^(\d+)s$/.exec(svc.stop_grace_period ?? '');
    assert.ok(grace, `${name}: stop_grace_period in seconds (Docker's default 10 s is too short)`);
    const budget = evacuationBudget(cfg, documentedSessionsPerNode());
    assert.ok(Number(grace[1]) >= budget, `${name}: stop_grace_period ${svc.stop_grace_period} covers evacuation (${budget} s)`);
    const acl = svc.volumes?.find((v) => v.split(':')[1] === aclFile(cfg));
    assert.equal(acl?.split(':')[0], './deploy/acl.yaml', `${name} mounts deploy/acl.yaml where the file source of authorization.sources reads it`);
  }
  assert.equal(names.size, 3, 'node names are distinct');
  assert.ok(compose.services.etcd && compose.services.prometheus);
  for (const p of compose.services.prometheus.ports ?? []) assert.match(p, /^127\.0\.0\.1:/);
  // the API keys are the operator's file too
  assert.match(compose.secrets.vireo_api_keys.file, /^\$\{VIREO_API_KEYS_FILE:\?[^}]+\}$/);
  assert.doesNotMatch(text, /:-[^}]*\}/, 'no variable has a default value');
  assert.ok(!existsSync(root('deploy/api-keys.example')), 'no example API secret to run with');
});

test('Dockerfile: exposes the default ports and starts the built command', () => {
  const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
  const exposed = /^EXPOSE (.+)$/m
    .exec(dockerfile)![1]
    .split(/\s+/)
    .map(Number)
    .sort((a, b) => a - b);
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

test('Dockerfile: npm ci runs no root lifecycle script (prepare builds the tests, which the image does not copy); every native module is rebuilt; non-root', () => {
  const dockerfile = readFileSync(root('Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const ci = /^RUN .*\bnpm ci\b.*$/m.exec(dockerfile)?.[0];
  assert.ok(ci, 'the build stage runs npm ci');
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
  const pkg = JSON.parse(readFileSync(root('package.json'), 'utf8')) as { scripts?: Record<string, string> };
  if (!/--ignore-scripts(?!=false)/.test(ci)) {
    // then the root prepare runs: `tsc -b` reads every referenced project's tsconfig
    const refs = (JSON.parse(readFileSync(root('tsconfig.json'), 'utf8')) as { references: { path: string }[] }).references.map((r) => r.path);
    for (const r of refs)
      assert.ok(
        copied.some((c) => r === c || r.startsWith(`${c}/`)),
        `npm ci runs prepare (${pkg.scripts?.prepare}), which needs ${r}/, not copied`,
      );
  }
  // production dependencies with a native addon get their install script by rebuild
  const lock = JSON.parse(readFileSync(root('package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
  const native = Object.entries(lock.packages)
    .filter(([p, v]) => p.startsWith('node_modules/') && !v.dev && v.hasInstallScript && existsSync(root(`${p}/binding.gyp`)))
    .map(([p]) => p.slice('node_modules/'.length));
  assert.ok(native.includes('better-sqlite3'));
  const rebuilt = /\bnpm rebuild ([^&]+)/.exec(ci)?.[1].trim().split(/\s+/) ?? [];
  if (/--ignore-scripts(?!=false)/.test(ci)) for (const n of native) assert.ok(rebuilt.includes(n), `${n} is rebuilt`);
  assert.match(dockerfile, /^USER node$/m, 'runs as the unprivileged node user');
  assert.equal((dockerfile.match(/^FROM /gm) ?? []).length, 2, 'two stages: the build tools stay in the first');
});

/** The shipped Grafana dashboard and Prometheus scrape config agree with what a node exports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
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
    const missing = [...used].filter((m) => !exported.has(m) && !exported.has(m.replace(/_total$/, '')));
    assert.deepEqual(missing, [], 'metrics the dashboard uses but the node does not export');
  } finally {
    await admin.close();
    await tb.close();
  }
});

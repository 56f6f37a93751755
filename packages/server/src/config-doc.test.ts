import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_DOC_URL, renderConfigDoc } from './config-doc.js';
import { configSchema } from './config-schema.js';
import { envNameOf } from './config-env.js';
import { flattenSchema } from './schema-dsl.js';

test('docs/configuration.md is what the generator produces (run `npm run docs:config`)', () => {
  const committed = readFileSync(CONFIG_DOC_URL, 'utf8');
  assert.ok(committed === renderConfigDoc(), 'docs/configuration.md is stale: run `npm run docs:config` and commit it');
});

test('every key is documented with its env name, and the page does not depend on the machine', () => {
  const doc = renderConfigDoc();
  for (const { path } of flattenSchema(configSchema)) {
    assert.ok(doc.includes(`### \`${path}\``), path);
    assert.ok(doc.includes(`\`${envNameOf(path)}\``), envNameOf(path));
  }
  assert.ok(doc.includes('`vireo@<hostname>`'));
});

test('every key of the configuration contract (the keys deployments are written against) is in the schema', () => {
  const paths = new Set(flattenSchema(configSchema).map((e) => e.path));
  const design = [
    'node.name',
    'node.cookie',
    'node.data_dir',
    'listeners.tcp.default.bind',
    'listeners.ws.default.bind',
    'dashboard.listeners.http.bind',
    'cluster.discovery_strategy',
    'cluster.static.seeds',
    'cluster.rpc.bind',
    'cluster.etcd.server',
    'cluster.etcd.prefix',
    'cluster.etcd.node_ttl',
    'cluster.dns.name',
    'cluster.dns.record_type',
    'cluster.k8s.apiserver',
    'cluster.k8s.service_name',
    'cluster.k8s.namespace',
    'cluster.k8s.address_type',
    'cluster.mcast.addr',
    'cluster.mcast.port',
    'cluster.mcast.iface',
    'cluster.mcast.ttl',
    'cluster.autoclean',
    'cluster.autoheal',
    'api_key.bootstrap_file',
    'log.level',
  ];
  for (const key of design) assert.ok(paths.has(key), key);
});

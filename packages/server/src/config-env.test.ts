import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envNameOf, pathOfEnvName, readEnvOverrides } from './config-env.js';
import { configSchema } from './config-schema.js';

test('env names: upper case, __ per dot, single _ stays in the key', () => {
  assert.equal(envNameOf('listeners.tcp.default.bind'), 'VIREO_LISTENERS__TCP__DEFAULT__BIND');
  assert.equal(envNameOf('node.data_dir'), 'VIREO_NODE__DATA_DIR');
  assert.equal(pathOfEnvName('VIREO_NODE__DATA_DIR'), 'node.data_dir');
  assert.equal(pathOfEnvName('VIREO_CLUSTER__DISCOVERY_STRATEGY'), 'cluster.discovery_strategy');
});

test('env values: lists as YAML, scalars as written, quotes removed', () => {
  const { overrides, errors } = readEnvOverrides(
    {
      VIREO_CLUSTER__STATIC__SEEDS: '[127.0.0.1:5371, 127.0.0.1:5372]',
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '[::]:1883',
      VIREO_NODE__COOKIE: '&not*an:anchor',
      VIREO_NODE__DATA_DIR: "'/var/lib/vireo'",
      VIREO_MQTT__MAX_INFLIGHT: '64',
      VIREO_MQTT: '{retry_interval: 10s}',
      PATH: '/usr/bin',
    },
    configSchema,
  );
  assert.deepEqual(errors, []);
  const byPath = Object.fromEntries(overrides.map((o) => [o.path, o.value]));
  assert.deepEqual(byPath, {
    'cluster.static.seeds': ['127.0.0.1:5371', '127.0.0.1:5372'],
    'listeners.tcp.default.bind': '[::]:1883',
    'node.cookie': '&not*an:anchor',
    'node.data_dir': '/var/lib/vireo',
    'mqtt.max_inflight': '64',
    mqtt: { retry_interval: '10s' },
  });
  assert.equal(overrides.find((o) => o.path === 'mqtt.max_inflight')?.source, 'VIREO_MQTT__MAX_INFLIGHT');
});

test('env: VIREO_CONFIG and empty values are not overrides; unknown names are kept for the validator', () => {
  const { overrides } = readEnvOverrides({ VIREO_CONFIG: 'vireo.yaml', VIREO_NODE__COOKIE: '', VIREO_LOG__LEVEL: '  ', VIREO_MQTT_MAX_INFLIGHT: '5' }, configSchema);
  assert.deepEqual(
    overrides.map((o) => o.path),
    ['mqtt_max_inflight'],
  );
});

test('env: broken YAML is an error naming the variable', () => {
  const { errors } = readEnvOverrides({ VIREO_CLUSTER__STATIC__SEEDS: '[a, b' }, configSchema);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.path, 'cluster.static.seeds');
  assert.equal(errors[0]?.source, 'VIREO_CLUSTER__STATIC__SEEDS');
  assert.match(errors[0]?.message ?? '', /not valid YAML/);
});

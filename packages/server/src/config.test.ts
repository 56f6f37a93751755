import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { loadConfig } from './config.js';
import { formatIssue } from './config-validate.js';
import { errorsOf } from './config-errors-of.js';
import { mqttSchema } from './config-schema/mqtt.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function yamlFile(text: string): string {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, text);
  return file;
}

test('defaults: no file, no env', () => {
  const { config, file } = loadConfig({ env: {} });
  assert.equal(file, undefined);
  assert.match(config.node.name, /^vireo@.+/);
  assert.equal(config.node.data_dir, './data');
  assert.deepEqual(config.listeners.tcp.default.bind, { host: '0.0.0.0', port: 1883 });
  assert.equal(config.listeners.tcp.default.max_connections, 1_024_000);
  assert.deepEqual(config.listeners.ws.default.bind, { host: '0.0.0.0', port: 8083 });
  assert.equal(config.listeners.ws.default.websocket.mqtt_path, '/mqtt');
  assert.deepEqual(config.dashboard.listeners.http.bind, { host: '0.0.0.0', port: 18083 });
  assert.equal(config.cluster.discovery_strategy, 'manual');
  assert.deepEqual(config.cluster.static.seeds, []);
  assert.deepEqual(config.cluster.rpc.bind, { host: '0.0.0.0', port: 5370 });
  assert.equal(config.cluster.etcd.node_ttl, 60_000);
  assert.equal(config.cluster.autoclean, 86_400_000);
  assert.equal(config.api_key.bootstrap_file, undefined);
  assert.equal(config.mqtt.idle_timeout, 15_000);
  assert.equal(config.mqtt.max_packet_size, 1_048_576);
  assert.equal(config.mqtt.server_keepalive, 0);
  assert.equal(config.mqtt.max_subscriptions, 0);
  assert.equal(config.sys_topics.sys_msg_interval, 60_000);
  assert.equal(config.log.level, 'info');
  assert.equal(config.log.format, 'auto');
});

test('YAML file: values parsed into their types', () => {
  const file = yamlFile(`
node:
  name: vireo@n1
listeners:
  tcp:
    default:
      bind: 127.0.0.1:1884
      max_connections: infinity
  ws:
    default:
      bind: 0
      websocket:
        mqtt_path: /ws
mqtt:
  idle_timeout: 30s
  max_packet_size: 64KB
  max_inflight: 64
  server_keepalive: 60
  max_subscriptions: 10
  keepalive_multiplier: 2
  shared_subscription_strategy: sticky
sys_topics:
  sys_msg_interval: disabled
cluster:
  discovery_strategy: static
  static:
    seeds: [10.0.0.2:5370, "node3:5370"]
log:
  level: warning
`);
  const { config } = loadConfig({ file, env: {} });
  assert.equal(config.node.name, 'vireo@n1');
  assert.deepEqual(config.listeners.tcp.default.bind, { host: '127.0.0.1', port: 1884 });
  assert.equal(config.listeners.tcp.default.max_connections, Number.MAX_SAFE_INTEGER);
  assert.equal(config.listeners.ws.default.bind.port, 0);
  assert.equal(config.listeners.ws.default.websocket.mqtt_path, '/ws');
  assert.equal(config.mqtt.idle_timeout, 30_000);
  assert.equal(config.mqtt.max_packet_size, 65_536);
  assert.equal(config.mqtt.max_inflight, 64);
  assert.equal(config.mqtt.server_keepalive, 60);
  assert.equal(config.mqtt.max_subscriptions, 10);
  assert.equal(config.mqtt.keepalive_multiplier, 2);
  assert.equal(config.mqtt.shared_subscription_strategy, 'sticky');
  assert.equal(config.sys_topics.sys_msg_interval, 0);
  assert.deepEqual(config.cluster.static.seeds, ['10.0.0.2:5370', 'node3:5370']);
  assert.equal(config.log.level, 'warning');
  // Untouched keys keep their defaults.
  assert.equal(config.mqtt.max_mqueue_len, 1000);
});

test('an empty file is an empty configuration', () => {
  assert.equal(loadConfig({ file: yamlFile(''), env: {} }).config.mqtt.max_inflight, 32);
});

test('env overrides the file; VIREO_CONFIG names the file', () => {
  const file = yamlFile('mqtt:\n  max_inflight: 64\n  retry_interval: 5s\n');
  const { config, file: used } = loadConfig({
    env: {
      VIREO_CONFIG: file,
      VIREO_MQTT__MAX_INFLIGHT: '128',
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '127.0.0.1:1884',
      VIREO_CLUSTER__STATIC__SEEDS: '[127.0.0.1:5371, 127.0.0.1:5372]',
      VIREO_NODE__DATA_DIR: '/tmp/vireo-data',
    },
  });
  assert.equal(used, file);
  assert.equal(config.mqtt.max_inflight, 128);
  assert.equal(config.mqtt.retry_interval, 5000);
  assert.deepEqual(config.listeners.tcp.default.bind, { host: '127.0.0.1', port: 1884 });
  assert.deepEqual(config.cluster.static.seeds, ['127.0.0.1:5371', '127.0.0.1:5372']);
  assert.equal(config.node.data_dir, '/tmp/vireo-data');
});

test('--config wins over VIREO_CONFIG', () => {
  const a = yamlFile('mqtt: {max_inflight: 1}');
  const b = yamlFile('mqtt: {max_inflight: 2}');
  assert.equal(loadConfig({ file: b, env: { VIREO_CONFIG: a } }).config.mqtt.max_inflight, 2);
});

test('env: a whole section as a YAML mapping merges with the file', () => {
  const file = yamlFile('mqtt:\n  max_inflight: 64\n');
  const { config } = loadConfig({ file, env: { VIREO_MQTT: '{retry_interval: 10s}' } });
  assert.equal(config.mqtt.max_inflight, 64);
  assert.equal(config.mqtt.retry_interval, 10_000);
});

test('env: comma-separated lists', () => {
  const { config } = loadConfig({ env: { VIREO_CLUSTER__ETCD__SERVER: 'http://e1:2379, http://e2:2379' } });
  assert.deepEqual(config.cluster.etcd.server, ['http://e1:2379', 'http://e2:2379']);
});

test('wrong type: the message names the key, what was expected and what was given', () => {
  assert.deepEqual(errorsOf({ env: { VIREO_MQTT__MAX_INFLIGHT: 'abc' } }), ['mqtt.max_inflight: expected an integer 1..65535, got "abc" (VIREO_MQTT__MAX_INFLIGHT)']);
  const file = yamlFile('mqtt:\n  max_inflight: abc\n');
  assert.deepEqual(errorsOf({ file, env: {} }), [`mqtt.max_inflight: expected an integer 1..65535, got "abc" (${file}:2)`]);
});

test('out of range, bad duration, size, bind, enum, bool, list item', () => {
  const errors = errorsOf({
    env: {
      VIREO_MQTT__MAX_INFLIGHT: '0',
      VIREO_MQTT__IDLE_TIMEOUT: 'soon',
      VIREO_MQTT__MAX_PACKET_SIZE: '1TB',
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '127.0.0.1:99999',
      VIREO_LOG__LEVEL: 'warn',
      VIREO_MQTT__RETAIN_AVAILABLE: 'yes',
      VIREO_CLUSTER__STATIC__SEEDS: '[127.0.0.1:5371, nope]',
      VIREO_LISTENERS__WS__DEFAULT__WEBSOCKET__MQTT_PATH: 'mqtt',
    },
  });
  const byKey = (key: string) => errors.find((e) => e.startsWith(`${key}:`)) ?? `(no error for ${key})`;
  assert.equal(errors.length, 8, errors.join('\n'));
  assert.match(byKey('mqtt.max_inflight'), /expected an integer 1\.\.65535, got "0"/);
  assert.match(byKey('mqtt.idle_timeout'), /expected a duration .*\(e\.g\. 500ms, 15s, 2h\), got "soon"/);
  assert.match(byKey('mqtt.max_packet_size'), /expected a size 1B\.\.\d+B.*got "1TB"/);
  assert.match(byKey('listeners.tcp.default.bind'), /expected host:port, \[ipv6\]:port or a port, got "127.0.0.1:99999"/);
  assert.match(byKey('log.level'), /expected one of debug, info, .*, got "warn" \(did you mean warning\?\)/);
  assert.match(byKey('mqtt.retain_available'), /expected true or false, got "yes"/);
  assert.match(byKey('cluster.static.seeds[1]'), /expected host:port, got "nope" \(VIREO_CLUSTER__STATIC__SEEDS\)/);
  assert.match(byKey('listeners.ws.default.websocket.mqtt_path'), /expected a path starting with \/, got "mqtt"/);
});

test('unknown keys: full path and the nearest known key, in the spelling used', () => {
  const file = yamlFile('mqtt:\n  max_inflite: 10\nlisteners:\n  tcp:\n    defualt:\n      bind: 1883\n');
  // Reported in schema order (listeners before mqtt), whatever the file's order.
  assert.deepEqual(errorsOf({ file, env: {} }), [
    `listeners.tcp.defualt: unknown key (did you mean listeners.tcp.default?) (${file}:5)`,
    `mqtt.max_inflite: unknown key (did you mean mqtt.max_inflight?) (${file}:2)`,
  ]);
  assert.deepEqual(errorsOf({ env: { VIREO_MQTT__MAX_INFLITE: '10' } }), ['mqtt.max_inflite: unknown key (did you mean VIREO_MQTT__MAX_INFLIGHT?) (VIREO_MQTT__MAX_INFLITE)']);
  // One underscore instead of two: no key of that name.
  assert.deepEqual(errorsOf({ env: { VIREO_MQTT_MAX_INFLIGHT: '10' } }), ['mqtt_max_inflight: unknown key (did you mean VIREO_MQTT__MAX_INFLIGHT?) (VIREO_MQTT_MAX_INFLIGHT)']);
  assert.deepEqual(errorsOf({ env: { VIREO_BOGUS__THING: '1' } }), ['bogus: unknown key (VIREO_BOGUS__THING)']);
});

test('a section given a scalar is an error, not a crash', () => {
  const file = yamlFile('mqtt: 5\n');
  assert.deepEqual(errorsOf({ file, env: {} }), [
    // the keys in schema order (several engineers add mqtt keys: the list is not repeated here)
    `mqtt: expected a mapping with keys ${Object.keys(mqttSchema).join(', ')}, got 5 (${file}:1)`,
  ]);
});

test('all errors are reported, from file and env together', () => {
  const file = yamlFile('mqtt:\n  max_inflight: abc\n  nope: 1\n');
  const errors = errorsOf({ file, env: { VIREO_LOG__LEVEL: 'loud', VIREO_NODE__NAME: 'no at sign' } });
  assert.equal(errors.length, 4, errors.join('\n'));
});

test('file problems: missing file, YAML syntax, duplicate keys, not a mapping', () => {
  const missing = join(dir, 'missing.yaml');
  assert.deepEqual(errorsOf({ file: missing, env: {} }), [`${missing}: cannot read the config file (ENOENT)`]);
  const broken = yamlFile('mqtt:\n  max_inflight: [1\n');
  const [syntax] = errorsOf({ file: broken, env: {} });
  assert.match(syntax ?? '', new RegExp(`^${broken}:\\d+:\\d+: `));
  const dup = yamlFile('mqtt:\n  max_inflight: 1\n  max_inflight: 2\n');
  assert.match(errorsOf({ file: dup, env: {} })[0] ?? '', /unique/);
  const list = yamlFile('- a\n- b\n');
  assert.deepEqual(errorsOf({ file: list, env: {} }), [`${list}: expected a YAML mapping of keys, got object`]);
});

test('force: unknown keys become warnings, bad values still fail', () => {
  const file = yamlFile('mqtt:\n  future_key: 1\n');
  const { warnings } = loadConfig({ file, env: {}, force: true });
  assert.deepEqual(warnings.map(formatIssue), [`mqtt.future_key: unknown key (${file}:2)`]);
  assert.equal(errorsOf({ file, env: { VIREO_MQTT__MAX_INFLIGHT: 'x' }, force: true }).length, 1);
});

test('string keys take numbers as text; optional keys accept null', () => {
  const file = yamlFile('node:\n  cookie: 12345\napi_key:\n  bootstrap_file: ~\n');
  const { config } = loadConfig({ file, env: {} });
  assert.equal(config.node.cookie, '12345');
  assert.equal(config.api_key.bootstrap_file, undefined);
  const keys = loadConfig({ env: { VIREO_API_KEY__BOOTSTRAP_FILE: '/etc/vireo/keys' } }).config;
  assert.equal(keys.api_key.bootstrap_file, '/etc/vireo/keys');
});

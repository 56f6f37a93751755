/** Named sections (`bridges.mqtt.<name>`): names the user picks, each section validated in full. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.js';
import { errorsOf } from './config-errors-of.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-named-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('no bridges by default', () => {
  assert.deepEqual(loadConfig({ env: {} }).config.bridges.mqtt, {});
});

test('two bridges from the file, each with its defaults filled in', () => {
  const file = join(dir, 'two.yaml');
  writeFileSync(
    file,
    [
      'bridges:',
      '  mqtt:',
      '    cloud:',
      '      server: cloud.example.com:8883',
      '      proto_ver: v5',
      '      ssl: {enable: true}',
      '      egress: {local: {topic: "up/#"}, remote: {topic: "site1/${topic}"}}',
      '    edge:',
      '      server: 10.0.0.9:1883',
      '      keepalive: 30s',
    ].join('\n'),
  );
  const { cloud, edge } = loadConfig({ file, env: {} }).config.bridges.mqtt;
  assert.ok(cloud && edge);
  assert.equal(cloud.server, 'cloud.example.com:8883');
  assert.equal(cloud.proto_ver, 'v5');
  assert.equal(cloud.ssl.enable, true);
  assert.equal(cloud.egress.local.topic, 'up/#');
  assert.equal(cloud.egress.remote.topic, 'site1/${topic}');
  assert.equal(cloud.egress.remote.qos, '${qos}');
  assert.equal(edge.keepalive, 30_000);
  assert.equal(edge.proto_ver, 'v4');
  assert.equal(edge.ingress.remote.topic, '');
});

test('a bridge through the environment alone; values taken as written', () => {
  const { config } = loadConfig({
    env: {
      VIREO_BRIDGES__MQTT__CLOUD__SERVER: '127.0.0.1:1883',
      VIREO_BRIDGES__MQTT__CLOUD__PASSWORD: 'a: b # not yaml',
      VIREO_BRIDGES__MQTT__CLOUD__MAX_INFLIGHT: '64',
    },
  });
  const cloud = config.bridges.mqtt.cloud!;
  assert.equal(cloud.server, '127.0.0.1:1883');
  assert.equal(cloud.password, 'a: b # not yaml');
  assert.equal(cloud.max_inflight, 64);
});

test('errors inside a named section name the full path and the source', () => {
  const errors = errorsOf({
    env: {
      VIREO_BRIDGES__MQTT__CLOUD__PROTO_VER: 'v9',
      VIREO_BRIDGES__MQTT__CLOUD__SERVE: 'x:1',
      VIREO_BRIDGES__MQTT__CLOUD__SERVER: 'nope',
    },
  });
  assert.ok(
    errors.some((e) => e.startsWith('bridges.mqtt.cloud.proto_ver: expected one of v3, v4, v5, got "v9"') && e.endsWith('(VIREO_BRIDGES__MQTT__CLOUD__PROTO_VER)')),
    errors.join('\n'),
  );
  assert.ok(
    errors.some((e) => e.startsWith('bridges.mqtt.cloud.serve: unknown key')),
    errors.join('\n'),
  );
  assert.ok(
    errors.some((e) => e.startsWith('bridges.mqtt.cloud.server: expected host:port, got "nope"')),
    errors.join('\n'),
  );
  const file = join(dir, 'badname.yaml');
  writeFileSync(file, 'bridges:\n  mqtt:\n    "-x": {server: "h:1"}\n    ok: 5\n');
  const fileErrors = errorsOf({ file, env: {} });
  assert.ok(
    fileErrors.some((e) => e.startsWith('bridges.mqtt.-x: a name must be')),
    fileErrors.join('\n'),
  );
  assert.ok(
    fileErrors.some((e) => e.startsWith('bridges.mqtt.ok: expected a mapping')),
    fileErrors.join('\n'),
  );
});

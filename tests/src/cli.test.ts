/**
 * The `vireo` command as operators run it: a real process, configured by VIREO_*
 * environment variables and a YAML file, driven by a real MQTT client.
 */
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, endAll, freePort } from './harness.js';
import { killAllVireo, spawnVireo, VIREO_BIN } from './vireo-process.js';

const T = { timeout: 120_000 };
afterEach(() => killAllVireo());
const dir = mkdtempSync(join(tmpdir(), 'vireo-cli-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('starts from VIREO_* env and a YAML file, accepts MQTT over TCP and WebSocket, stops on SIGTERM', T, async () => {
  const tcp = await freePort();
  const ws = await freePort();
  const config = join(dir, 'vireo.yaml');
  writeFileSync(config, `listeners:\n  ws:\n    default:\n      bind: 127.0.0.1:${ws}\n      websocket:\n        mqtt_path: /mqtt-test\n`);
  const vireo = spawnVireo({
    args: ['start', '--config', config],
    env: { VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${tcp}`, VIREO_NODE__NAME: 'vireo@clitest', VIREO_NODE__COOKIE: 'cli-test-cluster-cookie' },
  });
  const started = await vireo.waitForLog('started');
  assert.match(started.msg, /^Vireo \d+\.\d+\.\d+\S* started/);
  assert.equal(started.node, 'vireo@clitest');
  assert.deepEqual(started.listeners, [
    { name: 'tcp:default', type: 'tcp', host: '127.0.0.1', port: tcp },
    { name: 'ws:default', type: 'ws', host: '127.0.0.1', port: ws },
  ]);

  const v5 = await connect(`mqtt://127.0.0.1:${tcp}`, { protocolVersion: 5, clientId: 'cli-v5' });
  const v4 = await connect(`ws://127.0.0.1:${ws}/mqtt-test`, { protocolVersion: 4, clientId: 'cli-ws' });
  await endAll(v5, v4);

  vireo.kill('SIGTERM');
  const t0 = Date.now();
  const exit = await vireo.waitExit(8000);
  assert.deepEqual(exit, { code: 0, signal: null }, vireo.stderr());
  assert.ok(Date.now() - t0 < 6000);
  assert.ok(vireo.logs().some((l) => l.msg === 'stopped'));
});

test('port 0 disables a listener', T, async () => {
  const tcp = await freePort();
  const vireo = spawnVireo({
    env: { VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${tcp}`, VIREO_LISTENERS__WS__DEFAULT__BIND: '0' },
  });
  const started = await vireo.waitForLog('started');
  assert.deepEqual(started.listeners, [{ name: 'tcp:default', type: 'tcp', host: '127.0.0.1', port: tcp }]);
  vireo.kill('SIGINT');
  assert.equal((await vireo.waitExit(8000)).code, 0);
});

test('an unknown or invalid key: exit 2, stderr names each key', T, async () => {
  const vireo = spawnVireo({
    env: { VIREO_MQTT__MAX_INFLITE: '10', VIREO_MQTT__MAX_INFLIGHT: 'abc', VIREO_LISTENERS__TCP__DEFAULT__BIND: '0' },
  });
  const exit = await vireo.waitExit();
  assert.equal(exit.code, 2);
  assert.match(vireo.stderr(), /mqtt\.max_inflite: unknown key \(did you mean VIREO_MQTT__MAX_INFLIGHT\?\)/);
  assert.match(vireo.stderr(), /mqtt\.max_inflight: expected an integer 1\.\.65535, got "abc"/);
  assert.equal(vireo.stdout(), '');
});

test('a port already in use: exit 1, stderr names the listener key and the port', T, async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const vireo = spawnVireo({
      env: { VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`, VIREO_LISTENERS__WS__DEFAULT__BIND: '0' },
    });
    const exit = await vireo.waitExit();
    assert.equal(exit.code, 1, vireo.stderr());
    assert.match(vireo.stderr(), new RegExp(`listeners\\.tcp\\.default\\.bind: port ${port}\\b.*EADDRINUSE`));
  } finally {
    await new Promise((r) => blocker.close(r));
  }
});

test('version and help; usage errors exit 2', T, async () => {
  const version = spawnVireo({ args: ['version'] });
  assert.equal((await version.waitExit()).code, 0);
  assert.match(version.stdout(), /^vireo \d+\.\d+\.\d+/);
  const help = spawnVireo({ args: ['--help'] });
  assert.equal((await help.waitExit()).code, 0);
  assert.match(help.stdout(), /vireo start/);
  const bad = spawnVireo({ args: ['frobnicate'] });
  assert.equal((await bad.waitExit()).code, 2);
  assert.match(bad.stderr(), /unknown command: frobnicate/);
});

test('the installed bin (npx vireo) runs the command', T, async () => {
  assert.ok(existsSync(VIREO_BIN), `${VIREO_BIN} is missing: run npm ci (npm links packages/server/bin/vireo.js)`);
  const vireo = spawnVireo({ command: [VIREO_BIN], args: ['version'] });
  assert.equal((await vireo.waitExit()).code, 0, vireo.stderr());
  assert.match(vireo.stdout(), /^vireo \d+\.\d+\.\d+/);
});

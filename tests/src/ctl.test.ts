import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll } from './harness.js';
import { spawnVireo } from './vireo-process.js';
import { ctl as runCtl } from './ctl-run.js';
import { apiNodeEnv } from './api-node.js';

const T = { timeout: 120_000 };

const ctl = (env: Record<string, string>, ...args: string[]) => runCtl(env, args);

test('vireo ctl against a running node: status, clients, subscriptions, topics, listeners, stats, publish, kick; --json; errors exit non-zero', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-ctl-'));
  const { mqttPort, env: base } = await apiNodeEnv(dir);
  // the node and ctl read the same configuration, as an operator's shell would
  const env = { ...base, VIREO_NODE__DATA_DIR: path.join(dir, 'data') };
  const vireo = spawnVireo({ env });
  let dev: MqttClient | undefined;
  let pub: MqttClient | undefined;
  try {
    await vireo.waitForLog('started', 10_000);
    dev = await connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'dev-7', protocolVersion: 5 });
    pub = await connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'pub-1' });
    await dev.subscribeAsync('cmd/dev-7', { qos: 1 });

    const status = await ctl(env, 'status');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /is started/);

    const list = await ctl(env, 'clients', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^clientid\s+username\s+connected/m);
    assert.match(list.stdout, /dev-7/);
    assert.match(list.stdout, /2 client\(s\)/);

    const json = JSON.parse((await ctl(env, 'clients', 'show', 'dev-7', '--json')).stdout);
    assert.equal(json.clientid, 'dev-7');
    assert.equal(json.subscriptions_cnt, 1);

    assert.match((await ctl(env, 'subscriptions', 'list')).stdout, /dev-7\s+cmd\/dev-7\s+1/);
    assert.match((await ctl(env, 'subscriptions', 'show', 'dev-7')).stdout, /^cmd\/dev-7\s+1\s/m);
    assert.match((await ctl(env, 'topics', 'list')).stdout, /cmd\/dev-7/);
    assert.match((await ctl(env, 'listeners')).stdout, /tcp:default\s+127\.0\.0\.1:\d+\s+2/);
    assert.match((await ctl(env, 'broker', 'stats')).stdout, /live_connections\.count\s*: 2/);

    const traceFile = path.join(dir, 'data', 'trace', 'dev7.log');
    const started = await ctl(env, 'trace', 'start', 'client', 'dev-7', '--name', 'dev7');
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /trace dev7 started: clientid dev-7/);

    const got = new Promise<string>((resolve) => dev!.once('message', (_t, payload) => resolve(payload.toString())));
    assert.equal((await ctl(env, 'publish', 'cmd/dev-7', 'reboot', '--qos', '1')).code, 0);
    assert.equal(await got, 'reboot');

    assert.match((await ctl(env, 'trace', 'list')).stdout, /dev7\s+clientid\s+running/);
    assert.equal((await ctl(env, 'trace', 'stop', 'dev7')).code, 0);
    assert.match(readFileSync(traceFile, 'utf8'), /"event":"publish_out".*"topic":"cmd\/dev-7".*"payload":"reboot"/);

    const kicked = new Promise<number | undefined>((resolve) => dev!.once('disconnect', (p) => resolve(p.reasonCode)));
    const kick = await ctl(env, 'clients', 'kick', 'dev-7');
    assert.equal(kick.code, 0, kick.stderr);
    assert.equal(await kicked, 0x98);

    const missing = await ctl(env, 'clients', 'show', 'dev-7');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /404/);

    const badKey = await ctl({ ...env, VIREO_CTL_API_KEY: 'ops:wrong' }, 'clients', 'list');
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /refused the API key/);

    const usage = await ctl(env, 'clients', 'frobnicate');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown command/);
  } finally {
    await endAll(dev, pub);
    vireo.kill('SIGTERM');
    await vireo.waitExit(8000);
  }
  const down = await ctl(env, 'status');
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the node at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  rmSync(dir, { recursive: true, force: true });
});

/**
 * `resource_opts.buffer_on_disk`: egress messages accepted while the remote broker (a real
 * Mosquitto) is down survive the bridge's node being killed, and arrive, in order, after
 * it starts again on the same data dir.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { killAllVireo, spawnVireo } from './vireo-process.js';
import { startMosquitto, type Mosquitto } from './mosquitto-server.js';

const clients: MqttClient[] = [];
let mosq: Mosquitto | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'vireo-bridge-disk-'));

after(async () => {
  await endAll(...clients);
  killAllVireo();
  if (mosq) {
    await mosq.stop();
    rmSync(mosq.dir, { recursive: true, force: true });
  }
  rmSync(dataDir, { recursive: true, force: true });
});

test('the egress buffer on disk: messages accepted while the remote is down survive a kill -9 and arrive in order', { timeout: 120_000 }, async () => {
  const remotePort = await freePort(); // Mosquitto not started yet
  const mqttPort = await freePort();
  const env = {
    VIREO_NODE__DATA_DIR: dataDir,
    VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${mqttPort}`,
    VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
    VIREO_BRIDGES__MQTT__B__SERVER: `127.0.0.1:${remotePort}`,
    VIREO_BRIDGES__MQTT__B__RECONNECT_INTERVAL: '200ms',
    VIREO_BRIDGES__MQTT__B__EGRESS__LOCAL__TOPIC: 'e/#',
    VIREO_BRIDGES__MQTT__B__RESOURCE_OPTS__BUFFER_ON_DISK: 'true',
  };
  const first = spawnVireo({ env });
  await first.waitForLog('started', 20_000);
  const pub = await connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'disk-pub' });
  for (let i = 0; i < 20; i++) await pub.publishAsync(`e/${String(i).padStart(2, '0')}`, `m${i}`, { qos: 1 });
  await endAll(pub);
  const file = join(dataDir, 'bridges', 'b.buf');
  // a record is a 4-byte length, flags (1), topic length (2), topic, payload: all 20 are on disk
  // when the file is that long (the buffer writes once per tick, after the PUBACK)
  const bytes = Array.from({ length: 20 }, (_, i) => 4 + 3 + 'e/00'.length + `m${i}`.length).reduce((a, b) => a + b, 0);
  await waitFor(() => existsSync(file) && statSync(file).size >= bytes, `the 20 messages (${bytes} bytes) written to the disk buffer`, 10_000);
  first.kill('SIGKILL');
  await first.waitExit(10_000);

  mosq = await startMosquitto(remotePort);
  const sub = await connect(mosq.url, { clientId: 'disk-sub' });
  clients.push(sub);
  await sub.subscribeAsync('e/#', { qos: 1 });
  const got: string[] = [];
  sub.on('message', (t, p) => got.push(`${t}=${p.toString()}`));

  const second = spawnVireo({ env });
  const back = await second.waitForLog('Bridge egress buffer read back from disk', 20_000);
  assert.equal(back.messages, 20);
  await waitFor(() => got.length >= 20, `the 20 messages at Mosquitto (got ${got.length})`, 20_000);
  assert.deepEqual(
    got.slice(0, 20),
    Array.from({ length: 20 }, (_, i) => `e/${String(i).padStart(2, '0')}=m${i}`),
  );
  // all acknowledged: the file starts over
  await waitFor(() => statSync(file).size === 0, 'the disk buffer emptied once acknowledged', 10_000);
  second.kill('SIGTERM');
  assert.equal((await second.waitExit(10_000)).code, 0, second.stderr());
});

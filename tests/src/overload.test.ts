/**
 * overload_protection on a real node under real load: a flood of QoS 0 publishes from another
 * process keeps the event loop busy past `event_loop_utilization` (60 % here, sampled every
 * 250 ms); the node then answers new CONNECTs with 0x89 Server busy (3.1.1: 3 Server
 * unavailable), raises the `overload` alarm, counts the refusals and sheds QoS 0 to a
 * subscriber that does not read; when the flood stops the
 * alarm clears and CONNECTs are accepted again. Utilization, not lag, is the trigger: a flood
 * keeps the loop busy on a quiet machine and on a loaded one alike, and an idle node is idle on both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './harness.js';
import { apiNodeEnv } from './api-node.js';
import { RawClient, type ProtocolVersion } from './raw-client.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';

const FLOOD = fileURLToPath(new URL('./flood-load.js', import.meta.url));

interface AlarmItem {
  name: string;
  message: string;
  details: Record<string, unknown>;
  activated: boolean;
}

test('An overloaded node answers 0x89 and recovers when the load stops', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-overload-'));
  const { httpPort, mqttPort, env } = await apiNodeEnv(dir);
  const auth = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };
  let vireo: VireoProcess | undefined;
  let flood: ChildProcess | undefined;
  const laggards: RawClient[] = [];
  let n = 0;
  /** A fresh client's CONNACK code (v5 reason code, 3.1.1 return code). */
  const attempt = async (protocolVersion: ProtocolVersion): Promise<number> => {
    const c = await RawClient.open(mqttPort, '127.0.0.1', 20_000);
    try {
      const ack = await c.connect({ clientId: `probe-${n++}`, protocolVersion }, 20_000);
      return (protocolVersion === 5 ? ack.reasonCode : ack.returnCode) ?? -1;
    } finally {
      c.destroy();
    }
  };
  const alarms = async (q: string) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/v5/alarms${q}`, { headers: auth });
    assert.equal(res.status, 200);
    return ((await res.json()) as { data: AlarmItem[] }).data;
  };
  const counter = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/api/v5/prometheus/stats`)).text();
    return Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`${name}{`))
        ?.split(' ')
        .pop(),
    );
  };
  try {
    vireo = spawnVireo({
      env: {
        ...env,
        VIREO_OVERLOAD_PROTECTION__ENABLE: 'true',
        VIREO_OVERLOAD_PROTECTION__CHECK_INTERVAL: '250ms',
        VIREO_OVERLOAD_PROTECTION__EVENT_LOOP_UTILIZATION: '60%',
        VIREO_OVERLOAD_PROTECTION__EVENT_LOOP_LAG: 'disabled',
        VIREO_OVERLOAD_PROTECTION__HEAP_USAGE: 'disabled',
        VIREO_OVERLOAD_PROTECTION__SHED_QOS0_BACKLOG: '16KB',
      },
    });
    await vireo.waitForLog('started', 30_000);
    // an idle node takes CONNECTs (after the start-up's own busy seconds)
    await waitFor(async () => (await attempt(5)) === 0, 'an idle node accepts a CONNECT', 30_000, 250);
    // connected before the load; it subscribes to the flood once the node is overloaded and never reads
    const laggard = await RawClient.open(mqttPort);
    laggards.push(laggard);
    assert.equal((await laggard.connect({ clientId: 'laggard', protocolVersion: 5 })).reasonCode, 0);

    flood = spawn(process.execPath, [FLOOD, String(mqttPort), '4'], { stdio: 'ignore' });
    let busy = 0;
    await waitFor(async () => (busy = await attempt(5)) === 0x89, 'a v5 CONNECT answered 0x89 Server busy under the flood', 60_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}; last CONNACK 0x${busy.toString(16)}`);
    });
    await waitFor(async () => (await attempt(4)) === 3, 'a 3.1.1 CONNECT answered 3 Server unavailable under the flood', 60_000, 100);
    await waitFor(async () => (await alarms('?activated=true')).some((a) => a.name === 'overload'), 'the overload alarm is active', 30_000, 100);
    const alarm = (await alarms('')).find((a) => a.name === 'overload')!;
    assert.match(alarm.message, /overloaded \(event_loop_utilization\)/);
    assert.ok((await counter('vireo_overload_new_conn_refused')) >= 2, 'the refusals are counted');
    assert.ok(
      vireo.logs().some((l) => l.msg === 'Connection refused' && l.reason_code === 0x89),
      'the refusal is logged',
    );

    // the load stops: the alarm clears and CONNECTs are accepted again
    flood.kill('SIGKILL');
    await waitFor(async () => !(await alarms('?activated=true')).some((a) => a.name === 'overload'), 'the overload alarm clears', 30_000, 100);
    assert.ok(
      (await alarms('?activated=false')).some((a) => a.name === 'overload' && !a.activated),
      'the cleared alarm is in the history',
    );
    await waitFor(async () => (await attempt(5)) === 0, 'a CONNECT accepted after the load', 30_000, 100);
    assert.equal(await counter('vireo_overload'), 0);
  } finally {
    for (const c of laggards) c.destroy();
    flood?.kill('SIGKILL');
    vireo?.kill('SIGKILL');
    await vireo?.waitExit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('overload_protection, force_shutdown, flapping_detect: a bad value stops start-up naming the key', { timeout: 120_000 }, async () => {
  const base = { VIREO_LISTENERS__TCP__DEFAULT__BIND: '127.0.0.1:0', VIREO_LISTENERS__WS__DEFAULT__BIND: '0' };
  const cases: [Record<string, string>, RegExp][] = [
    [{ VIREO_OVERLOAD_PROTECTION__EVENT_LOOP_UTILIZATION: '120%' }, /overload_protection\.event_loop_utilization/],
    [{ VIREO_FORCE_SHUTDOWN__MAX_HEAP_SIZE: '32XB' }, /force_shutdown\.max_heap_size/],
    [{ VIREO_FLAPPING_DETECT__MAX_COUNT: '0' }, /flapping_detect\.max_count/],
  ];
  for (const [env, key] of cases) {
    const bad = spawnVireo({ env: { ...base, ...env } });
    const exit = await bad.waitExit(20_000);
    assert.equal(exit.code, 2, `exit 2 for ${JSON.stringify(env)}`);
    assert.match(bad.stderr(), key);
  }
});

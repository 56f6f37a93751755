/**
 * An evacuation started through the API outlives a restart of the node (EMQX's behaviour):
 * the node comes back refusing clients (CONNACK 0x9C, availability_check 503) until the
 * evacuation is stopped; once stopped, a restart leaves the node taking clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from './harness.js';
import { rawConnect } from './raw-client.js';
import { spawnVireo } from './vireo-process.js';
import { api, availability, startEvacCluster, waitClustered, type EvacCluster, type EvacNode } from './evacuation-nodes.js';

/** The CONNACK reason code a v5 client gets from `n`. */
async function connackCode(n: EvacNode, clientId: string): Promise<number> {
  const r = await rawConnect(n.mqttPort, { protocolVersion: 5, clientId });
  r.client.destroy();
  return r.connack.reasonCode ?? 0;
}

/** Stops `n` (SIGTERM; evacuate_on_shutdown is off) and starts it again on its data dir. */
async function restart(n: EvacNode): Promise<void> {
  n.proc.kill('SIGTERM');
  assert.equal((await n.proc.waitExit(30_000)).code, 0, n.proc.stderr());
  n.proc = spawnVireo({ env: n.env });
  await waitClustered([n]);
}

test('an evacuation started through the API goes on after a restart, until it is stopped', { timeout: 120_000 }, async () => {
  let cluster: EvacCluster | undefined;
  try {
    cluster = await startEvacCluster(['evr-a']);
    const a = cluster.nodes[0]!;
    await waitClustered([a]);
    const kept = path.join(cluster.dir, 'evr-a', 'evacuation.json');
    const at = `/api/v5/load_rebalance/${encodeURIComponent(a.node)}/evacuation`;
    const started = await api(a, 'POST', `${at}/start`, { wait_health_check: 0, wait_takeover: 0, conn_evict_rate: 100, sess_evict_rate: 100 });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.ok(existsSync(kept), 'kept in the data dir');
    await waitFor(async () => (await connackCode(a, 'before')) === 0x9c, 'CONNACK 0x9C while evacuating', 15_000);

    await restart(a);
    assert.ok(
      a.proc.logs().some((l) => l.msg.startsWith('Evacuation kept from before the restart')),
      'the node says why it refuses clients',
    );
    assert.equal(await availability(a), 503);
    await waitFor(async () => (await connackCode(a, 'after-restart')) === 0x9c, 'CONNACK 0x9C after the restart', 15_000);
    const status = await api(a, 'GET', '/api/v5/load_rebalance/status');
    assert.equal((status.body as { process?: string }).process, 'evacuation');

    assert.equal((await api(a, 'POST', `${at}/stop`)).status, 200);
    assert.equal(existsSync(kept), false, 'stopping forgets it');
    assert.equal(await connackCode(a, 'stopped'), 0);
    assert.equal(await availability(a), 200);

    await restart(a);
    assert.equal(await connackCode(a, 'stopped-restart'), 0, 'a stopped evacuation does not come back');
    assert.equal(await availability(a), 200);

    // a kept file that cannot be read stops start-up, naming it (the node must not take clients it was told to send away)
    a.proc.kill('SIGTERM');
    await a.proc.waitExit(30_000);
    writeFileSync(kept, '{"evacuation": {"wait_takeover": "soon"}}');
    a.proc = spawnVireo({ env: a.env });
    assert.equal((await a.proc.waitExit(30_000)).code, 1);
    assert.match(a.proc.stderr(), /cannot resume the evacuation kept in .*evacuation\.json: .*not an evacuation Vireo kept/);
  } finally {
    cluster?.cleanup();
  }
});

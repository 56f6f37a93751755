/**
 * `GET /api/v5/load_rebalance/availability_check` on real nodes, through the test load
 * balancer (lb-proxy.ts) that the rebalancing and evacuation tests use: new connections go
 * round-robin to the nodes whose check answers 200 — not to a node that is not ready (it
 * accepts MQTT, but answers 503), not to a frozen one (no answer in time) — and a node
 * that answers again is back in rotation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { ApiKeys, startAdmin } from '@vireo/admin';
import { connect, endAll, freePort, startBroker, waitFor } from './harness.js';
import { metric } from './api-node.js';
import { killAllVireo, spawnVireo, type VireoProcess } from './vireo-process.js';
import { AVAILABILITY_CHECK, startLbProxy, type LbBackend, type LbProxy } from './lb-proxy.js';

interface Node extends LbBackend {
  proc: VireoProcess;
  rpcPort: number;
}

async function node(name: string, env: Record<string, string> = {}): Promise<Node> {
  const [mqttPort, httpPort, rpcPort] = [await freePort(), await freePort(), await freePort()];
  const proc = spawnVireo({
    env: {
      VIREO_NODE__NAME: `${name}@127.0.0.1`,
      VIREO_NODE__COOKIE: 'lb-proxy-test-cookie-0123456789',
      VIREO_DURABLE_STORAGE__BACKEND: 'memory',
      VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${rpcPort}`,
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${mqttPort}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${httpPort}`,
      ...env,
    },
  });
  return { name, proc, mqttPort, httpPort, rpcPort };
}

test(
  'availability_check through the load-balancing proxy: round-robin among nodes answering 200, none to a node not ready or frozen, back when it answers',
  { timeout: 120_000 },
  async () => {
    const clients: MqttClient[] = [];
    let lb: LbProxy | undefined;
    const nodes: Node[] = [];
    try {
      const a = await node('lb-a');
      const c = await node('lb-c');
      // b finds a but cannot join it (another cookie): it serves MQTT and stays not ready
      const b = await node('lb-b', {
        VIREO_NODE__COOKIE: 'another-cookie-entirely-9876543210',
        VIREO_CLUSTER__DISCOVERY_STRATEGY: 'static',
        VIREO_CLUSTER__STATIC__SEEDS: `[127.0.0.1:${a.rpcPort}]`,
      });
      nodes.push(a, b, c);
      lb = await startLbProxy([a, b]);
      await lb.waitAvailable(['lb-a'], 60_000);
      lb.add(c); // a node joins the balancer's targets
      await lb.waitAvailable(['lb-a', 'lb-c'], 60_000);

      // the check needs no API key (these nodes have none, so every other /api/v5 path is 401),
      // and answers in EMQX's shapes
      const okAnswer = await fetch(`http://127.0.0.1:${a.httpPort}${AVAILABILITY_CHECK}`);
      assert.equal(okAnswer.status, 200);
      assert.deepEqual(await okAnswer.json(), {});
      assert.equal((await fetch(`http://127.0.0.1:${a.httpPort}/api/v5/nodes`)).status, 401);
      // b's API answers once it serves (the balancer saw it fail either way)
      let notReady: Response | undefined;
      for (const until = Date.now() + 60_000; !notReady && Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
        notReady = await fetch(`http://127.0.0.1:${b.httpPort}${AVAILABILITY_CHECK}`).catch(() => undefined);
      }
      assert.ok(notReady, 'b serves its API');
      assert.equal(notReady.status, 503);
      assert.deepEqual(await notReady.json(), { code: 'SERVICE_UNAVAILABLE', message: 'Node starting: not joined its cluster yet' });
      await b.proc.waitForLog('started'); // its MQTT listeners open last (after the start-up warm-up)
      const direct = await connect(`mqtt://127.0.0.1:${b.mqttPort}`, { clientId: 'direct-b' });
      clients.push(direct); // b takes MQTT: only the check keeps the balancer away from it
      assert.equal(await metric(b.httpPort, 'vireo_live_connections_count'), 1);

      const through = async (id: string) => clients.push(await connect(`mqtt://127.0.0.1:${lb!.port}`, { clientId: id }));
      for (let i = 0; i < 6; i++) await through(`rr-${i}`);
      assert.deepEqual(lb.routed(), { 'lb-a': 3, 'lb-b': 0, 'lb-c': 3 });
      assert.deepEqual(lb.open(), { 'lb-a': 3, 'lb-b': 0, 'lb-c': 3 });
      assert.deepEqual(
        await Promise.all([a, b, c].map((n) => metric(n.httpPort, 'vireo_live_connections_count'))),
        [3, 1, 3],
        'each node has the connections the balancer sent it (b: the direct one only)',
      );

      // c freezes: its check goes unanswered, it leaves the rotation, new clients go to a
      c.proc.kill('SIGSTOP');
      await lb.waitAvailable(['lb-a']);
      for (let i = 0; i < 4; i++) await through(`frozen-${i}`);
      assert.deepEqual(lb.routed(), { 'lb-a': 7, 'lb-b': 0, 'lb-c': 3 });
      assert.equal(await metric(a.httpPort, 'vireo_live_connections_count'), 7);

      // c answers again: back in rotation
      c.proc.kill('SIGCONT');
      await lb.waitAvailable(['lb-a', 'lb-c']);
      for (let i = 0; i < 2; i++) await through(`back-${i}`);
      assert.deepEqual(lb.routed(), { 'lb-a': 8, 'lb-b': 0, 'lb-c': 4 });
      assert.equal(await metric(c.httpPort, 'vireo_live_connections_count'), 4);
      // a client that leaves is no longer counted open
      await endAll(clients.pop());
      await waitFor(() => lb!.open()['lb-a'] + lb!.open()['lb-c'] === 11, 'the proxy to see the client leave');
    } finally {
      for (const n of nodes) n.proc.kill('SIGCONT');
      await endAll(...clients);
      await lb?.close();
      for (const n of nodes) n.proc.kill('SIGTERM');
      await Promise.all(nodes.map((n) => n.proc.waitExit(20_000).catch(() => undefined)));
      killAllVireo();
    }
  },
);

test('availability_check: 503 NODE_EVACUATING while the node gives load away (what evacuation and rebalancing will set), before readiness', async () => {
  const tb = await startBroker({ nodeName: 'vireo@availability' });
  let ready = false;
  let away = false;
  const admin = await startAdmin(tb.broker, { host: '127.0.0.1', port: 0, apiKeys: new ApiKeys(), prometheusAuth: false, ready: () => ready, givingLoadAway: () => away });
  const check = async () => {
    const r = await fetch(`http://127.0.0.1:${admin.address().port}${AVAILABILITY_CHECK}`);
    return [r.status, ((await r.json()) as { code?: string }).code];
  };
  try {
    assert.deepEqual(await check(), [503, 'SERVICE_UNAVAILABLE']);
    ready = true;
    assert.deepEqual(await check(), [200, undefined]);
    away = true;
    assert.deepEqual(await check(), [503, 'NODE_EVACUATING']);
    ready = false;
    assert.deepEqual(await check(), [503, 'NODE_EVACUATING']);
  } finally {
    await admin.close();
    await tb.close();
  }
});

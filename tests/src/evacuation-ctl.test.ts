/**
 * Evacuation driven by `vireo ctl rebalance start --evacuation --redirect-to …` on real nodes:
 * availability_check answers 503 at once; after wait-health-check a v5 client gets DISCONNECT
 * 0x9C with the Server Reference, a 3.1.1 client is closed, new CONNECTs get CONNACK 0x9C (v5
 * with the reference) or 3 (3.1.1); the v5 client follows the reference and finds its session
 * with what was published meanwhile; after wait-takeover the 3.1.1 client's session (never
 * reconnected) is pushed to the other node, where it finds it; status in `ctl rebalance
 * node-status`, `global_status` from the other node, metrics; `ctl rebalance stop` ends it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import { connect, endAll, waitFor } from './harness.js';
import { syncRoutes } from './cluster-nodes.js';
import { ctl } from './ctl-run.js';
import { metric } from './api-node.js';
import { rawConnect, type RawClient } from './raw-client.js';
import { api, availability, startEvacCluster, waitClustered, type EvacCluster } from './evacuation-nodes.js';

/** Connects (listening for messages from the start, so none is missed) and resolves with the CONNACK. */
function connectAck(url: string, opts: mqtt.IClientOptions, onMessage: (payload: string) => void): Promise<{ client: MqttClient; connack: mqtt.IConnackPacket }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  client.on('message', (_t, payload) => onMessage(payload.toString()));
  return new Promise((resolve, reject) => {
    client.once('connect', (connack) => resolve({ client, connack }));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

test(
  'vireo ctl rebalance start --evacuation --redirect-to: 503, DISCONNECT/CONNACK 0x9C with the Server Reference, sessions follow, status, stop',
  { timeout: 120_000 },
  async () => {
    let cluster: EvacCluster | undefined;
    const clients: MqttClient[] = [];
    const raws: RawClient[] = [];
    try {
      cluster = await startEvacCluster(['evx-a', 'evx-c']);
      const [a, c] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
      await waitClustered([a, c]);
      const redirect = `127.0.0.1:${a.mqttPort}`;

      // on c: a v5 client and a 3.1.1 client, each with a persistent session and a QoS 1 subscription
      const x = await connect(`mqtt://127.0.0.1:${c.mqttPort}`, { clientId: 'evx-v5', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 600 } });
      const y = await connect(`mqtt://127.0.0.1:${c.mqttPort}`, { clientId: 'evx-v3', protocolVersion: 4, clean: false });
      clients.push(x, y);
      await x.subscribeAsync('evx/x', { qos: 1 });
      await y.subscribeAsync('evx/y', { qos: 1 });
      const disconnects: mqtt.IDisconnectPacket[] = [];
      x.on('disconnect', (p) => disconnects.push(p));
      let yClosed = false;
      y.on('close', () => (yClosed = true));
      const pub = await connect(`mqtt://127.0.0.1:${a.mqttPort}`, { clientId: 'evx-pub' });
      clients.push(pub);
      // a v5 client with a delayed will: evicted, it never comes back; its will must move with its session
      const wills: string[] = [];
      pub.on('message', (t, payload) => t === 'evx/will' && wills.push(payload.toString()));
      await pub.subscribeAsync('evx/will', { qos: 1 });
      const w = await connect(`mqtt://127.0.0.1:${c.mqttPort}`, {
        clientId: 'evx-will',
        protocolVersion: 5,
        clean: false,
        properties: { sessionExpiryInterval: 600 },
        will: { topic: 'evx/will', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 600 } },
      });
      clients.push(w);
      await syncRoutes(w, [pub]);

      assert.equal(await availability(c), 200);
      const started = await ctl(c.ctlEnv, [
        'rebalance',
        'start',
        '--evacuation',
        '--wait-health-check',
        '1',
        '--wait-takeover',
        '2s', // a duration string, as the API takes
        '--conn-evict-rate',
        '10',
        '--redirect-to',
        redirect,
      ]);
      assert.equal(started.code, 0, started.stderr);
      assert.match(started.stdout, /evacuation\) started on evx-c@127\.0\.0\.1/);
      // unavailable at once, before any client is touched
      assert.equal(await availability(c), 503);
      const early = await ctl(c.ctlEnv, ['rebalance', 'node-status']);
      assert.match(early.stdout, /Rebalance type: evacuation\nRebalance state: (waiting_health_check|evicting_conns|waiting_takeover|evicting_sessions)\n/);
      const twice = await ctl(c.ctlEnv, ['rebalance', 'start', '--evacuation']);
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /already started/);

      // after wait-health-check: v5 gets DISCONNECT 0x9C with the reference, 3.1.1 is closed
      await waitFor(() => disconnects.length > 0 && yClosed, 'both clients evicted', 15_000);
      assert.equal(disconnects[0]!.reasonCode, 0x9c);
      assert.equal(disconnects[0]!.properties?.serverReference, redirect);
      const refused5 = await rawConnect(c.mqttPort, { protocolVersion: 5, clientId: 'evx-new5' });
      raws.push(refused5.client);
      assert.equal(refused5.connack.reasonCode, 0x9c);
      assert.equal(refused5.connack.properties?.serverReference, redirect);
      const refused4 = await rawConnect(c.mqttPort, { protocolVersion: 4, clientId: 'evx-new4' });
      raws.push(refused4.client);
      assert.equal(refused4.connack.returnCode, 3, '3.1.1: server unavailable');

      // messages published meanwhile wait in the sessions; the v5 client follows the reference
      await pub.publishAsync('evx/x', 'while-away', { qos: 1 });
      await pub.publishAsync('evx/y', 'for-v3', { qos: 1 });
      const [host, port] = disconnects[0]!.properties!.serverReference!.split(':');
      const got: string[] = [];
      const x2 = await connectAck(`mqtt://${host}:${port}`, { clientId: 'evx-v5', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 600 } }, (p) =>
        got.push(p),
      );
      clients.push(x2.client);
      assert.equal(x2.connack.sessionPresent, true, 'the v5 client finds its session on the node it was sent to');
      await waitFor(() => got.includes('while-away'), 'the message published while it moved', 10_000);

      // the 3.1.1 client never came back: after wait-takeover its session is pushed to evx-a
      await waitFor(() => a.proc.logs().some((l) => l.msg === 'Session received from an evacuating node' && l.clientid === 'evx-v3'), 'the session pushed to evx-a', 20_000);
      const global = await api(a, 'GET', '/api/v5/load_rebalance/global_status');
      const evac = (global.body as { evacuations: { node: string; state: string; stats: Record<string, number> }[]; rebalances: unknown[] }).evacuations;
      assert.equal(evac.length, 1);
      assert.equal(evac[0]!.node, c.node);
      const status = await ctl(c.ctlEnv, ['rebalance', 'node-status', '--json']);
      const s = JSON.parse(status.stdout) as { state: string; stats: Record<string, number>; evicted_connections: number };
      assert.ok(['evicting_sessions', 'prohibiting'].includes(s.state), s.state);
      assert.equal(s.evicted_connections, 3);
      assert.equal(s.stats.initial_connected, 3);
      assert.equal(await metric(c.httpPort, 'vireo_evacuation_connections_evicted_total'), 3);
      const yGot: string[] = [];
      const y2 = await connectAck(`mqtt://127.0.0.1:${a.mqttPort}`, { clientId: 'evx-v3', protocolVersion: 4, clean: false }, (p) => yGot.push(p));
      clients.push(y2.client);
      assert.equal(y2.connack.sessionPresent, true, 'the 3.1.1 client finds its session on evx-a');
      await waitFor(() => yGot.includes('for-v3'), 'the 3.1.1 session on evx-a delivers what was queued on evx-c', 10_000);
      await waitFor(() => c.proc.logs().some((l) => l.msg === 'Evacuation: prohibiting'), 'evacuation done', 10_000);
      // the delayed will went with evx-will's session: not sent at the eviction, sent by evx-a when the session ends there
      await waitFor(() => a.proc.logs().some((l) => l.msg === 'Session received from an evacuating node' && l.clientid === 'evx-will'), 'evx-will pushed', 10_000);
      assert.equal(wills.length, 0, 'no will at the eviction');
      const kicked = await api(a, 'DELETE', '/api/v5/clients/evx-will');
      assert.equal(kicked.status, 204);
      await waitFor(() => wills.includes('gone'), 'the will, published by evx-a when its session ends', 10_000);
      // evx-v3's session at least; evx-v5's too when the push came before its CONNECT on evx-a (a slow machine)
      const pushedLogs = c.proc.logs().filter((l) => l.msg === 'Session pushed to another node');
      assert.ok(pushedLogs.some((l) => l.clientid === 'evx-v3'));
      assert.equal(await metric(c.httpPort, 'vireo_evacuation_sessions_pushed_total'), pushedLogs.length);

      // stop: the node takes clients again
      const stopped = await ctl(c.ctlEnv, ['rebalance', 'stop']);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(await availability(c), 200);
      const back = await rawConnect(c.mqttPort, { protocolVersion: 5, clientId: 'evx-after' });
      raws.push(back.client);
      assert.equal(back.connack.reasonCode, 0);
      const none = await ctl(c.ctlEnv, ['rebalance', 'node-status']);
      assert.match(none.stdout, /disabled/);
      const stopAgain = await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.node)}/evacuation/stop`);
      assert.equal(stopAgain.status, 400);
      const unknown = await api(c, 'POST', '/api/v5/load_rebalance/nope@127.0.0.1/evacuation/start', {});
      assert.equal(unknown.status, 404);
      const bad = await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.node)}/evacuation/start`, { conn_evict_rate: 0 });
      assert.equal(bad.status, 400);
      const badWait = await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.node)}/evacuation/start`, { wait_takeover: '25h' });
      assert.equal(badWait.status, 400);
      assert.match((badWait.body as { message: string }).message, /wait_takeover: "25h" is longer than a day/);
      // the waits as duration strings, as EMQX also takes them: a minute of 503 before anything else
      const byApi = await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.node)}/evacuation/start`, { wait_health_check: '1m', wait_takeover: '90s' });
      assert.equal(byApi.status, 200, JSON.stringify(byApi.body));
      assert.equal(await availability(c), 503);
      const waiting = (await api(c, 'GET', '/api/v5/load_rebalance/status')).body as { status: string; state?: string };
      assert.equal(waiting.state, 'waiting_health_check', JSON.stringify(waiting));
      assert.equal((await api(c, 'POST', `/api/v5/load_rebalance/${encodeURIComponent(c.node)}/evacuation/stop`)).status, 200);
    } finally {
      for (const r of raws) r.socket.destroy();
      await endAll(...clients);
      cluster?.cleanup();
    }
  },
);

/**
 * A shared group whose members sit on several nodes, and one of those nodes is killed
 * (-9) and restarted on its data dir while a publisher keeps sending: users of other
 * clustered brokers report messages routed to the dead node's member and lost. Here
 * every message the publisher got a PUBACK for after the survivors saw the node down
 * reaches exactly one member; the restarted node's member gets its persistent session
 * back and takes its share again.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { connect, endAll, freePort, sleep, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { startNode, syncRoutes, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';

const clients: MqttClient[] = [];
const nodes: ClusterNode[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'vireo-shared-restart-'));

after(async () => {
  await endAll(...clients);
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Records which member got which payload. */
function record(member: MqttClient, name: string, into: Map<string, string[]>): void {
  member.on('message', (topic, payload) => {
    if (!topic.startsWith('sr/')) return;
    const p = payload.toString();
    into.set(p, [...(into.get(p) ?? []), name]);
  });
}

test("a shared-group member's node killed and restarted mid-stream: nothing acknowledged after the purge is lost or doubled", { timeout: 120_000 }, async (t) => {
  const rpc = [await freePort(), await freePort(), await freePort()];
  const mqttPorts = [await freePort(), await freePort(), await freePort()];
  const names = ['sr0@127.0.0.1', 'sr1@127.0.0.1', 'sr2@127.0.0.1'];
  const cDir = { VIREO_NODE__DATA_DIR: dataDir };
  const spec = (i: number) => ({ name: names[i]!, rpcPort: rpc[i]!, mqttPort: mqttPorts[i]!, seeds: rpc, extraEnv: i === 2 ? cDir : undefined });
  for (let i = 0; i < 3; i++) nodes.push(startNode(spec(i)));
  await Promise.all(nodes.map((n) => waitMembers(n, names)));
  const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];

  const got = new Map<string, string[]>();
  const pub = await connect(a.url, { clientId: 'sr-pub', protocolVersion: 5 });
  const onB = await connect(b.url, { clientId: 'sr-b', protocolVersion: 5 });
  // C's member keeps its session across the restart (session expiry 5 min, on C's data dir)
  const sessionOpts = { clientId: 'sr-c', protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 300 } };
  const onC = await connect(c.url, sessionOpts);
  clients.push(pub, onB, onC);
  record(onB, 'b', got);
  record(onC, 'c', got);
  await onB.subscribeAsync('$share/g/sr/#', { qos: 1 });
  await onC.subscribeAsync('$share/g/sr/#', { qos: 1 });
  await syncRoutes(pub, [onB, onC]);

  // a steady QoS 1 stream; each payload is remembered with the time it was sent and the time its PUBACK came
  const acked: { payload: string; sentAt: number; at: number }[] = [];
  let stop = false;
  const publishing = (async () => {
    for (let i = 0; !stop; i++) {
      const payload = `m${i}`;
      const sentAt = Date.now();
      await pub.publishAsync(`sr/${i % 4}`, payload, { qos: 1 });
      acked.push({ payload, sentAt, at: Date.now() });
      await sleep(10);
    }
  })();

  await waitFor(() => new Set([...got.values()].flat()).size === 2, 'both members to take a share', 10_000); // both members took a share
  c.proc.kill('SIGKILL');
  onC.end(true);
  await c.proc.waitExit();
  const down = await waitLog(a, 'Cluster node down', (l) => l.peer_node === c.name, 5000);
  const purgedAt = Date.parse(String(down.time));
  await sleep(1000); // a second of stream with only B's member left

  // C restarts on its data dir; its member comes back to its session (from the moment C
  // rejoins, its restored session is a member again and queues its share until then)
  const restartedAt = Date.now();
  const c2 = startNode(spec(2));
  nodes[2] = c2;
  await Promise.all([waitMembers(a, names), waitMembers(c2, names)]);
  const back = mqtt.connect(c2.url, { ...sessionOpts, reconnectPeriod: 0 });
  clients.push(back);
  let backGot = 0;
  back.on('message', (topic) => topic.startsWith('sr/') && backGot++);
  record(back, 'c', got); // the same session as before the kill: a redelivery to it is QoS 1's allowed duplicate
  const present = await new Promise<boolean>((resolve, reject) => {
    back.once('connect', (p) => resolve(p.sessionPresent));
    back.once('error', reject);
  });
  assert.equal(present, true, 'the member on the restarted node gets its session back');
  await waitFor(() => backGot > 0, 'the restarted member to take a share again', 15_000);
  stop = true;
  await publishing;
  // the last acknowledged messages land
  await waitFor(() => acked.every((x) => x.at <= purgedAt || got.has(x.payload)), 'every message acknowledged after the purge to arrive', 10_000, 50).catch(() => undefined);

  const after = acked.filter((x) => x.at > purgedAt);
  assert.ok(after.length > 100, `the stream kept going after the purge (${after.length} acknowledged)`);
  const lost = after.filter((x) => !got.has(x.payload)).map((x) => x.payload);
  assert.deepEqual(lost, [], 'every message acknowledged after the purge reached a member');
  const doubled = [...got.entries()].filter(([, who]) => new Set(who).size > 1);
  assert.deepEqual(doubled, [], 'no message reached two members');
  // sent after A saw C down: routed to B. (By its PUBACK's time instead, a message routed to C
  // just before the purge and acknowledged just after it counted here, and C gets it when back.)
  const whileDown = acked.filter((x) => x.sentAt > purgedAt && x.at < restartedAt);
  const notB = whileDown.filter((x) => got.get(x.payload)?.[0] !== 'b').map((x) => `${x.payload} sent ${x.sentAt - purgedAt} ms after the purge: ${String(got.get(x.payload))}`);
  assert.deepEqual(notB, [], "while C was away, B's member took every message");
  const beforeKill = acked.filter((x) => x.at <= purgedAt);
  const lostInWindow = beforeKill.filter((x) => !got.has(x.payload)).length;
  // the window between the kill and the purge: what was on its way to C's member is lost
  // (forwarding is fire-and-forget, docs/clustering.md); it must stay a handful
  t.diagnostic(`${acked.length} acknowledged, ${after.length} after the purge, ${lostInWindow} lost between kill and purge`);
  assert.ok(lostInWindow <= 20, `${lostInWindow} messages lost between the kill and the purge`);
});

/**
 * A frozen node (SIGSTOP longer than the heartbeat timeout, then SIGCONT) with real
 * processes: its peers mark it down and purge its routes, then see it running again; it
 * does not crash, and afterwards a message published on any node reaches every
 * subscriber on every node exactly once (no stale or doubled routes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { connect, endAll, quietFor, sleep, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { logsMatching, startCluster, syncRoutes, waitMembers, type ClusterNode } from './cluster-nodes.js';

/** Heartbeat timeout of the peer links (GrpcCluster's default): the freeze lasts longer. */
const HEARTBEAT_TIMEOUT_MS = 5000;

async function waitCount(node: ClusterNode, msg: string, peer: string, n: number, ms: number): Promise<void> {
  await waitFor(() => logsMatching(node, msg, (l) => l.peer_node === peer).length >= n, `${node.name} to log "${msg}" for ${peer} ${n} times`, ms, 50).catch((err: Error) => {
    throw new Error(`${err.message} (${ms} ms)\n${node.proc.stdout().slice(-3000)}`);
  });
}

describe('a node frozen past the heartbeat timeout', () => {
  let nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];

  before(async () => {
    nodes = await startCluster(3, 'frz');
    await Promise.all(
      nodes.map((n) =>
        waitMembers(
          n,
          nodes.map((m) => m.name),
          40_000,
        ),
      ),
    );
  });

  after(async () => {
    for (const n of nodes) n.proc.kill('SIGCONT');
    await endAll(...clients);
    for (const n of nodes) n.proc.kill('SIGKILL');
    killAllVireo();
  });

  test('is marked down, then running again; every subscriber gets each later message once', { timeout: 120_000 }, async () => {
    const [a, frozen, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    // long keepalive: the frozen node's own clients stay connected through the freeze
    const subs = await Promise.all(nodes.map((n, i) => connect(n.url, { clientId: `frz-sub-${i}`, protocolVersion: 5, keepalive: 120 })));
    clients.push(...subs);
    await Promise.all(subs.map((s) => s.subscribeAsync('frz/#', { qos: 1 })));
    const pubs = await Promise.all(nodes.map((n, i) => connect(n.url, { clientId: `frz-pub-${i}`, protocolVersion: 5, keepalive: 120 })));
    clients.push(...pubs);

    frozen.proc.kill('SIGSTOP');
    await Promise.all([
      waitCount(a, 'Cluster node down', frozen.name, 1, HEARTBEAT_TIMEOUT_MS + 5000),
      waitCount(c, 'Cluster node down', frozen.name, 1, HEARTBEAT_TIMEOUT_MS + 5000),
    ]);
    await waitCount(a, 'Purged routes of cluster node', frozen.name, 1, 10_000);
    await sleep(1000);
    frozen.proc.kill('SIGCONT');

    await Promise.all([waitCount(a, 'Cluster node running', frozen.name, 2, 20_000), waitCount(c, 'Cluster node running', frozen.name, 2, 20_000)]);
    await waitMembers(
      frozen,
      nodes.map((n) => n.name),
      20_000,
    );
    assert.equal(frozen.proc.child.exitCode, null, 'the frozen node is still running');
    assert.equal(frozen.proc.child.signalCode, null);

    // every node's routes reach every other node again
    for (const p of pubs) await syncRoutes(p, subs);

    const got = subs.map(() => [] as string[]);
    const handlers = subs.map((s, i) => {
      const h = (t: string, p: Buffer) => {
        if (t.startsWith('frz/')) got[i]!.push(p.toString());
      };
      s.on('message', h);
      return h;
    });
    await Promise.all(pubs.map((p, i) => p.publishAsync(`frz/${i}`, `m${i}`, { qos: 1 })));
    await waitFor(() => got.every((g) => g.length >= 3), 'three messages for each subscriber', 15_000).catch(() => undefined);
    await quietFor(500, () => got.every((g) => g.length <= 3), 'no message twice');
    subs.forEach((s, i) => s.removeListener('message', handlers[i]!));
    for (let i = 0; i < subs.length; i++) {
      assert.deepEqual([...got[i]!].sort(), ['m0', 'm1', 'm2'], `subscriber on ${nodes[i]!.name}: each message once`);
    }
    const errors = frozen.proc.logs().filter((l) => l.level === 'error' || l.level === 'fatal' || Number(l.level) >= 50);
    assert.deepEqual(errors, [], 'the frozen node logged no error');
  });
});

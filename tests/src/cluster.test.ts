/**
 * The cluster with real processes: three `vireo start` nodes on loopback, configured only
 * through VIREO_* variables, static discovery. Clients on different nodes see one broker;
 * a wrong cookie is refused; a node killed with SIGKILL is dropped by the survivors and
 * rejoins when restarted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { connect, endAll, freePort, quietFor, sleep, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { logsMatching, startCluster, startNode, syncRoutes, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';

const T = { timeout: 120_000 };

interface Got {
  topic: string;
  payload: string;
  qos: number;
}

/** Resolves with the next `n` messages whose topic starts with `prefix`. */
function collectOn(client: MqttClient, prefix: string, n: number, ms = 15_000): Promise<Got[]> {
  const got: Got[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.removeListener('message', on);
      reject(new Error(`expected ${n} messages on ${prefix}, got ${got.length}`));
    }, ms);
    const on = (topic: string, payload: Buffer, packet: { qos: number }) => {
      if (!topic.startsWith(prefix)) return;
      got.push({ topic, payload: payload.toString(), qos: packet.qos });
      if (got.length >= n) {
        clearTimeout(timer);
        client.removeListener('message', on);
        resolve(got);
      }
    };
    client.on('message', on);
  });
}

/**
 * Connects and starts collecting before CONNACK is seen, so messages a session delivers
 * right after CONNACK are not missed.
 */
async function openCollecting(url: string, opts: IClientOptions, prefix: string, n: number): Promise<{ client: MqttClient; sessionPresent: boolean; messages: Promise<Got[]> }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  const messages = n > 0 ? collectOn(client, prefix, n) : Promise.resolve([]);
  const sessionPresent = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (p) => resolve(p.sessionPresent));
    client.once('error', reject);
  });
  return { client, sessionPresent, messages };
}

/** Records every message on `prefix` from now on, until stopped. */
function record(client: MqttClient, prefix: string): { got: Got[]; stop(): void } {
  const got: Got[] = [];
  const on = (topic: string, payload: Buffer, packet: { qos: number }) => {
    if (topic.startsWith(prefix)) got.push({ topic, payload: payload.toString(), qos: packet.qos });
  };
  client.on('message', on);
  return { got, stop: () => client.removeListener('message', on) };
}

/** Asserts that `client` gets nothing on `prefix` for `ms`. */
async function nothingOn(client: MqttClient, prefix: string, ms: number, what: string): Promise<void> {
  const r = record(client, prefix);
  try {
    await quietFor(ms, () => r.got.length === 0, what);
  } finally {
    r.stop();
  }
}

describe('a three-node cluster', () => {
  let nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  const client = async (node: ClusterNode, clientId: string): Promise<MqttClient> => {
    const c = await connect(node.url, { clientId, protocolVersion: 5 });
    clients.push(c);
    return c;
  };

  before(async () => {
    nodes = await startCluster(3, 'cl');
    const names = nodes.map((n) => n.name);
    await Promise.all(nodes.map((n) => waitMembers(n, names)));
  });

  after(async () => {
    await endAll(...clients);
    for (const n of nodes) n.proc.kill('SIGKILL');
    killAllVireo();
  });

  test('every node logs the other two running', T, () => {
    for (const n of nodes) {
      const peers = logsMatching(n, 'Cluster node running').map((l) => l.peer_node);
      assert.deepEqual(
        [...new Set(peers)].sort(),
        nodes
          .filter((o) => o !== n)
          .map((o) => o.name)
          .sort(),
      );
    }
  });

  test('$SYS/brokers lists the three nodes on every node', T, async () => {
    const want = nodes
      .map((n) => n.name)
      .sort()
      .join(',');
    for (const n of nodes) {
      const until = Date.now() + 30_000;
      for (;;) {
        const c = await client(n, `sys-${n.name}-${Date.now()}`);
        const got = collectOn(c, '$SYS/brokers', 1, 1000).catch(() => []);
        await c.subscribeAsync('$SYS/brokers', { qos: 0 });
        const msgs = await got;
        await endAll(c);
        if (msgs[0]?.payload === want) break;
        assert.ok(Date.now() < until, `${n.name}: $SYS/brokers is ${msgs[0]?.payload}, want ${want}`);
        await sleep(100);
      }
    }
  });

  test('QoS 0 and 1 cross nodes, one copy per subscriber, in publish order', T, async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const pub = await client(a, 'x-pub');
    const subB = await client(b, 'x-sub-b');
    const subC = await client(c, 'x-sub-c');
    await subB.subscribeAsync('x/q', { qos: 1 });
    await subC.subscribeAsync('x/q', { qos: 0 });
    await syncRoutes(pub, [subB, subC]);
    const gotB = collectOn(subB, 'x/q', 100);
    const gotC = collectOn(subC, 'x/q', 100);
    for (let i = 0; i < 50; i++) pub.publish('x/q', `q0-${i}`, { qos: 0 });
    for (let i = 0; i < 50; i++) await pub.publishAsync('x/q', `q1-${i}`, { qos: 1 });
    const [rb, rc] = await Promise.all([gotB, gotC]);
    const expected = [...Array.from({ length: 50 }, (_, i) => `q0-${i}`), ...Array.from({ length: 50 }, (_, i) => `q1-${i}`)];
    assert.deepEqual(
      rb.map((m) => m.payload),
      expected,
    );
    assert.deepEqual(
      rc.map((m) => m.payload),
      expected,
    );
    // QoS is the minimum of publish and subscription QoS, across nodes as on one
    assert.deepEqual([...new Set(rb.slice(50).map((m) => m.qos))], [1]);
    assert.deepEqual([...new Set(rc.map((m) => m.qos))], [0]);
    // no duplicates arrive later
    await nothingOn(subB, 'x/q', 300, 'no duplicate arrives later');
  });

  test('wildcard subscriptions on another node match', T, async () => {
    const [a, , c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const pub = await client(a, 'w-pub');
    const sub = await client(c, 'w-sub');
    await sub.subscribeAsync(['w/+/x', 'w2/#'], { qos: 1 });
    await syncRoutes(pub, [sub]);
    const got = collectOn(sub, 'w', 3);
    pub.publish('w/1/y', 'no', { qos: 1 });
    pub.publish('w/1/x', 'yes1', { qos: 1 });
    pub.publish('w2/a/b/c', 'yes2', { qos: 1 });
    pub.publish('w2', 'yes3', { qos: 1 });
    assert.deepEqual(
      (await got).map((m) => `${m.topic}=${m.payload}`),
      ['w/1/x=yes1', 'w2/a/b/c=yes2', 'w2=yes3'],
    );
    // nothing matched twice (w2/# matches w2 once)
    await nothingOn(sub, 'w', 200, 'nothing matched twice');
  });

  test('a shared group spread over the cluster gets each message once', T, async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const pub = await client(a, 's-pub');
    const members = [await client(a, 's-m-a'), await client(b, 's-m-b'), await client(c, 's-m-c')];
    await Promise.all(members.map((m) => m.subscribeAsync('$share/g1/s/#', { qos: 1 })));
    await syncRoutes(pub, members);
    const recs = members.map((m) => record(m, 's/'));
    for (let i = 0; i < 60; i++) pub.publish(`s/${i % 3}`, `m${i}`, { qos: 1 });
    const total = () => recs.reduce((n, r) => n + r.got.length, 0);
    await waitFor(() => total() >= 60, 'the 60 messages in the group', 30_000).catch(() => undefined);
    await quietFor(300, () => total() <= 60, 'no message twice in the group');
    recs.forEach((r) => r.stop());
    const per = recs.map((r) => r.got);
    const payloads = per
      .flat()
      .map((m) => m.payload)
      .sort();
    assert.deepEqual(payloads, Array.from({ length: 60 }, (_, i) => `m${i}`).sort(), 'each message exactly once in the group');
    for (const [i, got] of per.entries()) assert.ok(got.length > 0, `member on node ${i} got none of 60 messages`);
  });

  test('messages forwarded from another node reach a v5 subscriber through topic aliases with their topics', T, async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const pub = await client(a, 'ta-pub');
    const sub = await connect(b.url, { clientId: 'ta-sub', protocolVersion: 5, properties: { topicAliasMaximum: 2 } });
    clients.push(sub);
    await sub.subscribeAsync('ta/#', { qos: 1 });
    await syncRoutes(pub, [sub]);
    const aliased: number[] = [];
    sub.on('packetreceive', (p) => {
      // (a late route probe of syncRoutes may still come: count only this test's payloads)
      if (p.cmd === 'publish' && p.properties?.topicAlias !== undefined && /^t\d+$/.test(p.payload.toString())) aliased.push(p.properties.topicAlias);
    });
    const topics = ['ta/site-1/temperature', 'ta/site-2/temperature', 'ta/site-3/temperature'];
    const got = collectOn(sub, 'ta/', 30);
    for (let i = 0; i < 30; i++) await pub.publishAsync(topics[Math.floor(i / 4) % 3]!, `t${i}`, { qos: (i % 2) as 0 | 1 });
    // QoS 0 and 1 may take different paths between nodes: compare as sets
    assert.deepEqual((await got).map((m) => `${m.topic}=${m.payload}`).sort(), Array.from({ length: 30 }, (_, i) => `${topics[Math.floor(i / 4) % 3]}=t${i}`).sort());
    assert.equal(aliased.length, 30, 'every message went with an alias');
    assert.ok(aliased.every((x) => x === 1 || x === 2));
  });

  test('a retained message published on A reaches a subscriber on C', T, async () => {
    const [a, , c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const pub = await client(a, 'r-pub');
    await pub.publishAsync('ret/1', 'kept', { qos: 1, retain: true });
    // replication is asynchronous: subscribe until it is there (bounded)
    const until = Date.now() + 30_000;
    for (;;) {
      const sub = await client(c, `r-sub-${Date.now()}`);
      const got = collectOn(sub, 'ret/', 1, 300).catch(() => []);
      await sub.subscribeAsync('ret/#', { qos: 1 });
      const msgs = await got;
      await endAll(sub);
      if (msgs.length === 1) {
        assert.equal(msgs[0]!.payload, 'kept');
        break;
      }
      assert.ok(Date.now() < until, 'retained message never reached node C');
    }
  });

  test('a node with the wrong cookie is refused, with a log line on both sides', T, async () => {
    const [a] = nodes as [ClusterNode];
    const intruder = startNode({
      name: 'intruder@127.0.0.1',
      rpcPort: await freePort(),
      mqttPort: await freePort(),
      seeds: [a.rpcPort],
      cookie: 'not-the-cluster-cookie',
    });
    try {
      const mine = await waitLog(intruder, 'Refused by cluster peer');
      assert.equal(mine.level, 'error');
      assert.equal(mine.peer_node, a.name);
      const theirs = await waitLog(a, 'Refused cluster peer', (l) => l.peer_node === 'intruder@127.0.0.1');
      assert.equal(theirs.reason, 'cookie mismatch');
      assert.ok(!intruder.proc.stdout().includes('not-the-cluster-cookie') && !a.proc.stdout().includes('not-the-cluster-cookie'), 'the cookie is never logged');
      assert.equal(logsMatching(a, 'Cluster node running', (l) => l.peer_node === 'intruder@127.0.0.1').length, 0);
    } finally {
      intruder.proc.kill('SIGKILL');
      await intruder.proc.waitExit();
    }
  });

  test('a client reconnecting to another node takes its session over; clean start there discards it', T, async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const persistent: IClientOptions = { clientId: 'tk-1', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 300 } };
    const pub = await client(c, 'tk-pub');
    const onA = await connect(a.url, persistent);
    clients.push(onA);
    await onA.subscribeAsync('tk/t', { qos: 1 });
    await syncRoutes(pub, [onA]);

    // 1. connected on A, connects on B: A sends DISCONNECT 0x8E, B's CONNACK says session present
    const kicked = new Promise<number | undefined>((resolve) => onA.once('disconnect', (p) => resolve(p.reasonCode)));
    const connB = await openCollecting(b.url, persistent, 'tk/', 0);
    clients.push(connB.client);
    assert.equal(connB.sessionPresent, true);
    assert.equal(await kicked, 0x8e);
    await waitLog(a, 'Session takeovered by another node', (l) => l.clientid === 'tk-1');
    const moved = await waitLog(b, 'Session taken over from another node', (l) => l.clientid === 'tk-1');
    assert.ok(Number(moved.ms) < 1000, `takeover took ${String(moved.ms)} ms`);
    // its subscription moved too: messages from C now reach it on B
    await syncRoutes(pub, [connB.client]);
    const live = collectOn(connB.client, 'tk/', 3);
    for (let i = 0; i < 3; i++) await pub.publishAsync('tk/t', `live-${i}`, { qos: 1 });
    assert.deepEqual(
      (await live).map((m) => m.payload),
      ['live-0', 'live-1', 'live-2'],
    );

    // 2. offline on B with queued messages, reconnects on A: the queue comes along
    await endAll(connB.client);
    await sleep(100);
    for (let i = 0; i < 5; i++) await pub.publishAsync('tk/t', `queued-${i}`, { qos: 1 });
    const backOnA = await openCollecting(a.url, persistent, 'tk/', 5);
    clients.push(backOnA.client);
    assert.equal(backOnA.sessionPresent, true);
    assert.deepEqual(
      (await backOnA.messages).map((m) => m.payload),
      ['queued-0', 'queued-1', 'queued-2', 'queued-3', 'queued-4'],
    );

    // 3. clean start on C: the session on A is discarded, not moved
    const kicked2 = new Promise<number | undefined>((resolve) => backOnA.client.once('disconnect', (p) => resolve(p.reasonCode)));
    const fresh = await openCollecting(c.url, { ...persistent, clean: true }, 'tk/', 0);
    clients.push(fresh.client);
    assert.equal(fresh.sessionPresent, false);
    assert.equal(await kicked2, 0x8e);
    await waitLog(a, 'Session discarded by another node', (l) => l.clientid === 'tk-1');
  });

  test('kill -9 one node: survivors purge it within seconds and keep serving; restarted, it rejoins', T, async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const pub = await client(a, 'k-pub');
    const subB = await client(b, 'k-sub-b');
    const subC = await connect(c.url, { clientId: 'k-sub-c', protocolVersion: 5 });
    await subB.subscribeAsync('k/t', { qos: 1 });
    await subC.subscribeAsync('k/only-c', { qos: 1 });
    await syncRoutes(pub, [subB, subC]);

    const killedAt = Date.now();
    c.proc.kill('SIGKILL');
    subC.end(true);
    await c.proc.waitExit();
    for (const s of [a, b]) {
      const down = await waitLog(s, 'Cluster node down', (l) => l.peer_node === c.name, 5000);
      assert.ok(Date.parse(String(down.time)) - killedAt < 5000, `${s.name} noticed ${c.name} down in under 5 s`);
    }
    const purged = await waitLog(a, 'Purged routes of cluster node', (l) => l.peer_node === c.name, 5000);
    assert.ok(Number(purged.routes) >= 1);
    // survivors keep serving their own clients
    const got = collectOn(subB, 'k/t', 5);
    for (let i = 0; i < 5; i++) await pub.publishAsync('k/t', `after-${i}`, { qos: 1 });
    assert.deepEqual(
      (await got).map((m) => m.payload),
      Array.from({ length: 5 }, (_, i) => `after-${i}`),
    );

    // restart C on the same ports: it rejoins, resyncs, and delivery to it resumes
    const c2 = startNode({ name: c.name, rpcPort: c.rpcPort, mqttPort: c.mqttPort, seeds: nodes.map((n) => n.rpcPort) });
    nodes[2] = c2;
    const names = nodes.map((n) => n.name);
    await Promise.all([waitMembers(a, names), waitMembers(b, names), waitMembers(c2, names)]);
    const subC2 = await client(c2, 'k-sub-c2');
    await subC2.subscribeAsync('k/t', { qos: 1 });
    await syncRoutes(pub, [subC2]);
    const gotC2 = collectOn(subC2, 'k/t', 3);
    const gotB2 = collectOn(subB, 'k/t', 3);
    for (let i = 0; i < 3; i++) await pub.publishAsync('k/t', `back-${i}`, { qos: 1 });
    assert.deepEqual(
      (await gotC2).map((m) => m.payload),
      ['back-0', 'back-1', 'back-2'],
    );
    assert.deepEqual(
      (await gotB2).map((m) => m.payload),
      ['back-0', 'back-1', 'back-2'],
    );
    // and C publishes to the others again, its retained copy included (resynced on rejoin)
    const rsub = await client(c2, 'k-ret');
    const ret = collectOn(rsub, 'ret/', 1, 5000);
    await rsub.subscribeAsync('ret/#', { qos: 1 });
    assert.equal((await ret)[0]!.payload, 'kept');
  });

  test('a node frozen (SIGSTOP) past the heartbeat timeout is marked down, then running again after SIGCONT', T, async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const downs = (n: ClusterNode) => logsMatching(n, 'Cluster node down', (l) => l.peer_node === c.name).length;
    const before = downs(a);
    const frozenAt = Date.now();
    c.proc.kill('SIGSTOP');
    try {
      await waitFor(() => downs(a) > before, 'A to mark the frozen node down', 10_000);
      const took = Date.now() - frozenAt;
      assert.ok(took >= 4000 && took < 9000, `marked down after ${took} ms (heartbeat timeout 5 s)`);
    } finally {
      c.proc.kill('SIGCONT');
    }
    const names = nodes.map((n) => n.name);
    await Promise.all([waitMembers(a, names), waitMembers(b, names), waitMembers(c, names)]);
    // no stale routes and delivery works both ways again
    const pub = await client(a, 'f-pub');
    const sub = await client(c, 'f-sub');
    await sub.subscribeAsync('f/t', { qos: 1 });
    await syncRoutes(pub, [sub]);
    const got = collectOn(sub, 'f/t', 1);
    await pub.publishAsync('f/t', 'thawed', { qos: 1 });
    assert.equal((await got)[0]!.payload, 'thawed');
    assert.equal(c.proc.child.exitCode, null, 'the frozen node did not crash');
  });

  test('a node stopped with SIGTERM is reported stopped, not down', T, async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const downsBefore = logsMatching(a, 'Cluster node down', (l) => l.peer_node === c.name).length;
    c.proc.kill('SIGTERM');
    assert.equal((await c.proc.waitExit()).code, 0);
    for (const s of [a, b]) {
      const line = await waitLog(s, 'Cluster node stopped', (l) => l.peer_node === c.name, 5000);
      assert.equal(line.level, 'info');
    }
    assert.equal(logsMatching(a, 'Cluster node down', (l) => l.peer_node === c.name).length, downsBefore);
    await waitMembers(a, [a.name, b.name]);
  });
});

/**
 * Multicast announcements are signed: a node started with `mcast` discovery (over the
 * loopback interface) dials an address announced with the cluster's cookie and a fresh
 * timestamp, and ignores — logged — an unsigned one, one signed with another cookie and a
 * stale one. The "peer" is a plain TCP listener of the test counting who connects to it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { freePort, waitFor } from './harness.js';
import { startNode, waitLog, type ClusterNode } from './cluster-nodes.js';

const GROUP = '239.192.0.78';
const COOKIE = 'mcast-auth-test-cookie';
const nodes: ClusterNode[] = [];
const servers: net.Server[] = [];
after(async () => {
  for (const n of nodes) n.proc.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.proc.waitExit()));
  for (const s of servers) s.close();
});

/** A listener that counts connections: the address an announcement points at. */
async function decoy(): Promise<{ port: number; hits: () => number }> {
  let hits = 0;
  const server = net.createServer((s) => {
    hits++;
    s.destroy();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, hits: () => hits };
}

function sign(cookie: string, node: string, addr: string, ts: number): string {
  return createHmac('sha256', cookie).update(`vireo-cluster/mcast\n${node}\n${addr}\n${ts}`).digest('hex');
}

test('unsigned, wrongly signed and stale multicast announcements are ignored; a signed fresh one is dialled', { timeout: 120_000 }, async () => {
  const mcastPort = await freePort();
  const n = startNode({
    name: 'mca@127.0.0.1',
    rpcPort: await freePort(),
    mqttPort: await freePort(),
    seeds: [],
    cookie: COOKIE,
    extraEnv: {
      VIREO_CLUSTER__DISCOVERY_STRATEGY: 'mcast',
      VIREO_CLUSTER__MCAST__ADDR: GROUP,
      VIREO_CLUSTER__MCAST__PORT: String(mcastPort),
      VIREO_CLUSTER__MCAST__IFACE: '127.0.0.1',
      VIREO_CLUSTER__MCAST__TTL: '1',
    },
  });
  nodes.push(n);
  await waitLog(n, 'Announcing on multicast', () => true, 20_000);
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  sock.setMulticastInterface('127.0.0.1');
  const announce = (a: object) => new Promise<void>((r) => sock.send(Buffer.from(JSON.stringify(a)), mcastPort, GROUP, () => r()));
  try {
    const cases = [
      { name: 'unsigned', reason: /unsigned/, make: (node: string, addr: string) => ({ vireo: 1, node, addr }) },
      {
        name: 'other cookie',
        reason: /bad signature/,
        make: (node: string, addr: string, ts = Date.now()) => ({ vireo: 2, node, addr, ts, mac: sign('another-cluster-cookie', node, addr, ts) }),
      },
      { name: 'stale', reason: /stale/, make: (node: string, addr: string, ts = Date.now() - 120_000) => ({ vireo: 2, node, addr, ts, mac: sign(COOKIE, node, addr, ts) }) },
    ];
    const decoys = [];
    for (const c of cases) {
      const d = await decoy();
      decoys.push(d);
      const addr = `127.0.0.1:${d.port}`;
      await announce(c.make(`x-${c.name.replace(' ', '-')}@127.0.0.1`, addr));
      const line = await waitLog(n, 'Multicast announcement ignored', (l) => l.addr === addr);
      assert.match(String(line.reason), c.reason, c.name);
    }
    // the control: the same announcement, signed and fresh, makes the node dial
    const good = await decoy();
    const addr = `127.0.0.1:${good.port}`;
    const ts = Date.now();
    await announce({ vireo: 2, node: 'x-good@127.0.0.1', addr, ts, mac: sign(COOKIE, 'x-good@127.0.0.1', addr, ts) });
    await waitFor(() => good.hits() > 0, 'the node dialled the signed announcement', 15_000);
    // an ignored announcement never becomes a candidate: nothing dialled those
    assert.deepEqual(
      decoys.map((d) => d.hits()),
      [0, 0, 0],
    );
  } finally {
    sock.close();
  }
});

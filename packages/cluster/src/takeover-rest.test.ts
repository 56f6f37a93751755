/**
 * A takeover's stand-in queue (`takeover_rest`) survives a link that drops between the end of
 * the stand-in and its write (protocol 4, takeover-rest.ts). The real cases run two real
 * GrpcClusters on loopback, with recording hosts in place of brokers; the leaving node
 * reaches the receiving one through a TCP relay whose sockets are destroyed in the very turn
 * the stand-in ends, so the frame is queued but never written on that connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pino from 'pino';
import { startCluster, type GrpcCluster } from './grpc-cluster.js';
import { delivery, recordingHost, until } from './testing/takeover-host.js';
import type { Discovery } from './discovery.js';
import { RestDelivery } from './takeover-rest.js';
import type { Frame } from './wire.js';

const log = pino({ level: 'silent' });
const COOKIE = 'takeover-rest-test-cookie-0123456789';

/** A TCP relay to `port`; `cut` destroys every connection through it (new ones still pass). */
async function relay(port: number) {
  const sockets = new Set<net.Socket>();
  let cuts = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    addr: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    get cuts() {
      return cuts;
    },
    cut() {
      cuts++;
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const discovery = (seeds: string[]): Discovery => ({ strategy: 'static', candidates: async () => seeds, close() {} });
const options = (node: string, seeds: string[]) => ({
  node,
  cookie: COOKIE,
  bind: { host: '127.0.0.1', port: 0 },
  discovery: discovery(seeds),
  sharedStrategy: 'round_robin' as const,
  logger: log,
  retryMs: 200,
});

test('the link to the new node drops as the stand-in ends: its queue is sent again, applied once, and only then is the push done', { timeout: 30_000 }, async () => {
  const clusters: GrpcCluster[] = [];
  let proxy: Awaited<ReturnType<typeof relay>> | undefined;
  try {
    const receiving = await startCluster(options('receiving@127.0.0.1', []));
    clusters.push(receiving);
    proxy = await relay(receiving.rpcPort);
    const p = proxy;
    // the leaving node dials the receiving one through the relay only (it dials back directly)
    const leaving = await startCluster(options('leaving@127.0.0.1', [p.addr]));
    clusters.push(leaving);
    let settled = false;
    // published on the leaving node after the push began: only its stand-in has it; the link
    // drops in the turn the stand-in ends, before the queued frame is written
    const old = recordingHost(log, { standIn: [delivery('in the stand-in')], onEnd: () => p.cut() });
    const recv = recordingHost(log);
    leaving.attach(old.host);
    receiving.attach(recv.host);
    await until(() => leaving.nodes().length === 2 && receiving.nodes().length === 2, 'the two nodes to see each other');

    const push = leaving.pushSession('dev-1', 'receiving@127.0.0.1').then((ok) => {
      settled = true;
      return ok;
    });
    await until(() => p.cuts === 1, 'the stand-in to end (and the link to be cut)');
    // the rest cannot have arrived over the cut connection; the push waits for it
    assert.equal(settled, false, 'the push is not done before the new node has the queue');
    assert.equal(await push, true, 'the receiver took the session');
    // by the time the push is done the receiver applied the queue, exactly once
    assert.deepEqual(
      recv.rests.map((r) => ({ clientId: r.clientId, payloads: r.deliveries.map((d) => d.msg.payload.toString()) })),
      [{ clientId: 'dev-1', payloads: ['in the stand-in'] }],
    );
    assert.equal(recv.installed.length, 1, 'the session was installed once');
  } finally {
    await Promise.all(clusters.map((c) => c.close()));
    await proxy?.close();
  }
});

test('a node of protocol 3 gets the stand-in queue unnumbered and sends no acknowledgement: the push completes as before', { timeout: 30_000 }, async () => {
  const clusters: GrpcCluster[] = [];
  try {
    const receiving = await startCluster({ ...options('receiving@127.0.0.1', []), protocols: { min: 2, max: 3 } });
    clusters.push(receiving);
    const leaving = await startCluster(options('leaving@127.0.0.1', [`127.0.0.1:${receiving.rpcPort}`]));
    clusters.push(leaving);
    const old = recordingHost(log, { standIn: [delivery('in the stand-in')] });
    const recv = recordingHost(log);
    leaving.attach(old.host);
    receiving.attach(recv.host);
    await until(() => leaving.nodes().length === 2 && receiving.nodes().length === 2, 'the two nodes to see each other');
    assert.equal(await leaving.pushSession('dev-1', 'receiving@127.0.0.1'), true);
    await until(() => recv.rests.length > 0, 'the stand-in queue to reach the receiving node', 5_000);
    assert.deepEqual(
      recv.rests.map((r) => r.deliveries.map((d) => d.msg.payload.toString())),
      [['in the stand-in']],
    );
  } finally {
    await Promise.all(clusters.map((c) => c.close()));
  }
});

test('unit: numbered queues are kept until acknowledged, sent again on link up and on retry, applied once, given up after a bound', async () => {
  const sent: { node: string; frame: Frame }[] = [];
  let up = true;
  const rd = new RestDelivery({ log, send: (node, frame) => void sent.push({ node, frame }), linked: () => up, retryMs: 20, keepMs: 300 });
  const outcomes: boolean[] = [];
  rd.send('b', 'dev-1', Buffer.from('q'), 1, (acked) => void outcomes.push(acked));
  const id = sent[0]!.frame.takeover_rest!.id!;
  assert.ok(id > 0, 'numbered');
  // the receiver: the first copy is new, a copy sent again is not; each is acknowledged
  const recvSent: Frame[] = [];
  const recv = new RestDelivery({ log, send: (_n, f) => void recvSent.push(f), linked: () => true });
  assert.equal(recv.accept('a', 'dev-1', id), true);
  assert.equal(recv.accept('a', 'dev-1', id), false);
  assert.equal(recv.accept('c', 'dev-1', id), true, 'numbers are per sending node');
  assert.deepEqual(
    recvSent.map((f) => f.takeover_rest_ack),
    [
      { clientid: 'dev-1', id },
      { clientid: 'dev-1', id },
      { clientid: 'dev-1', id },
    ],
  );
  // link up again: sent again first; while unacknowledged on a live link: again on retry
  rd.linkUp('b');
  assert.equal(sent.length, 2);
  await until(() => sent.length >= 3, 'a retry');
  // an acknowledgement from another node is not this one's
  rd.onAck('c', { clientid: 'dev-1', id });
  assert.equal(rd.pending, 1);
  rd.onAck('b', { clientid: 'dev-1', id });
  assert.equal(rd.pending, 0);
  assert.deepEqual(outcomes, [true]);
  // never acknowledged (the link stays down): given up after keepMs, said so
  up = false;
  rd.send('b', 'dev-2', Buffer.from('q'), 3, (acked) => void outcomes.push(acked));
  const before = sent.length;
  await until(() => outcomes.length === 2, 'the bound', 2000);
  assert.deepEqual(outcomes, [true, false]);
  assert.equal(sent.length, before, 'nothing sent on retry while the link is down');
  rd.close();
  recv.close();
});

test('unit: a node that comes back as an earlier release (no acknowledgements) gets a kept queue once, not again and again', () => {
  const sent: Frame[] = [];
  const link: { protocol?: number } = {};
  const rd = new RestDelivery({ log, send: (_n, f) => void sent.push(f), linked: () => link.protocol !== undefined, protocolOf: () => link.protocol, retryMs: 10 });
  const outcomes: boolean[] = [];
  rd.send('b', 'dev-1', Buffer.from('q'), 1, (acked) => void outcomes.push(acked));
  link.protocol = 3;
  rd.linkUp('b');
  assert.equal(sent.length, 2, 'sent once more, over the new link');
  assert.equal(rd.pending, 0, 'not kept for an acknowledgement that will not come');
  assert.deepEqual(outcomes, [true]);
  rd.close();
});

/**
 * A node that stops right after its last session push (evacuation, then the stop) still
 * delivers that push's stand-in queue (`takeover_rest`): two real GrpcClusters on loopback,
 * with recording hosts in place of brokers. The push resolves in the same turn as the
 * stand-in queue is queued for the receiver, and the stop follows in that turn, before the
 * outbox's scheduled flush: the case in which the scale-in test lost a message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startCluster, type GrpcCluster } from './grpc-cluster.js';
import { delivery, recordingHost, sessionState, until } from './testing/takeover-host.js';
import type { Discovery } from './discovery.js';

const log = pino({ level: 'silent' });
const COOKIE = 'takeover-shutdown-test-cookie-0123456789';

test('a node stopping in the turn its last push completed still sends that push stand-in queue', { timeout: 30_000 }, async () => {
  const seeds: string[] = [];
  const discovery: Discovery = { strategy: 'static', candidates: async () => seeds, close() {} };
  const options = (node: string) => ({ node, cookie: COOKIE, bind: { host: '127.0.0.1', port: 0 }, discovery, sharedStrategy: 'round_robin' as const, logger: log, retryMs: 200 });
  const clusters: GrpcCluster[] = [];
  try {
    const leaving = await startCluster(options('leaving@127.0.0.1'));
    clusters.push(leaving);
    const receiving = await startCluster(options('receiving@127.0.0.1'));
    clusters.push(receiving);
    seeds.push(`127.0.0.1:${leaving.rpcPort}`, `127.0.0.1:${receiving.rpcPort}`);
    // published on the leaving node after the push began: only its stand-in has it
    const old = recordingHost(log, { standIn: [delivery('in the stand-in')], pushed: (id) => sessionState(id, [delivery('queued')]) });
    const recv = recordingHost(log, { pushed: (id) => sessionState(id, [delivery('queued')]) });
    leaving.attach(old.host);
    receiving.attach(recv.host);
    await until(() => leaving.nodes().length === 2 && receiving.nodes().length === 2, 'the two nodes to see each other');

    // the push resolves once the receiver asked for the rest; the stop follows at once
    const pushed = await leaving.pushSession('dev-1', 'receiving@127.0.0.1');
    assert.equal(pushed, true, 'the receiver took the session');
    await leaving.close();

    assert.equal(recv.installed.length, 1, 'the session was installed on the receiving node');
    await until(() => recv.rests.length > 0, 'the stand-in queue to reach the receiving node', 5_000);
    assert.deepEqual(
      recv.rests.map((r) => ({ clientId: r.clientId, payloads: r.deliveries.map((d) => d.msg.payload.toString()) })),
      [{ clientId: 'dev-1', payloads: ['in the stand-in'] }],
    );
  } finally {
    await Promise.all(clusters.map((c) => c.close()));
  }
});

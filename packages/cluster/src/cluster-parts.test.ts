/**
 * The cluster's parts against fakes (no sockets): route sync's snapshot and numbered deltas,
 * the forwarder's choice of peers and its acknowledged QoS 1/2 frames, and the frame table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { ClusterHost, Message } from '@vireo/broker';
import { ClientLock } from './client-lock.js';
import { Forwarder } from './forwarder.js';
import { dispatchFrame, peerFrameHandlers, type FrameParts } from './frame-handlers.js';
import { Outbox } from './outbox.js';
import { PeerStats } from './peer-stats.js';
import { RouteSync } from './route-sync.js';
import type { Frame } from './wire.js';

const log = pino({ level: 'silent' });

function routeSync(node = 'a'): RouteSync {
  const lock = new ClientLock({ node, autoheal: true, logger: log, discardLocal: () => {} });
  return new RouteSync({ log, lock, schedule: () => {} });
}

const msg = (topic: string, qos: 0 | 1 | 2 = 0, from = 'c'): Message => ({
  id: 1,
  topic,
  payload: Buffer.from('x'),
  qos,
  retain: false,
  properties: undefined,
  from,
  timestamp: 1,
  expiresAt: 0,
});

test('route sync: a snapshot, then numbered deltas; a gap asks for a resync; deltas before a snapshot are ignored', () => {
  const a = routeSync('a');
  a.add('s/+', undefined);
  a.add('s/+', undefined); // once
  a.add('j/#', 'g');
  const delta = a.takeDelta()!.routes!;
  assert.equal(delta.seq, 1);
  assert.deepEqual(delta.add, [
    { filter: 's/+', group: '' },
    { filter: 'j/#', group: 'g' },
  ]);
  assert.equal(a.takeDelta(), undefined, 'nothing changed since');

  const b = routeSync('b');
  a.delete('s/+', undefined);
  const d2 = a.takeDelta()!.routes!;
  assert.equal(b.receive('a', d2), undefined, 'a delta before the snapshot is ignored');
  assert.equal(b.remote.size, 0);
  b.receive('a', a.snapshot([]).routes!);
  assert.equal(b.remote.size, 1, 'the snapshot holds j/# for group g');
  a.add('k', undefined);
  assert.equal(b.receive('a', a.takeDelta()!.routes!), undefined);
  assert.equal(b.remote.size, 2);
  a.add('l', undefined);
  a.takeDelta(); // lost
  a.add('m', undefined);
  assert.equal(b.receive('a', a.takeDelta()!.routes!), 'gap');
  b.peerDown('a');
  assert.equal(b.remote.size, 0, 'a peer that goes down takes its routes');
});

function forwarder(linkedNodes: string[], delivered: Message[] = []) {
  const routes = routeSync('a');
  const frames = new Map<string, Frame[]>();
  const outbox = new Outbox(() => {
    for (const [node, q] of outbox.takeAll()) {
      for (const f of q.frames) f2.sending(node, f);
      frames.set(node, [...(frames.get(node) ?? []), ...q.frames]);
    }
  });
  const host = { dispatchLocal: (m: Message) => delivered.push(m) } as unknown as ClusterHost;
  const f2 = new Forwarder({
    node: 'a',
    log,
    strategy: 'round_robin',
    routes,
    outbox,
    stats: new PeerStats(),
    linked: (n) => linkedNodes.includes(n),
    linkedCount: () => linkedNodes.length,
    host: () => host,
  });
  return { f: f2, routes, outbox, frames };
}

test('forwarder: a message goes to each linked peer with a matching route, once; shared groups to one node in turn', () => {
  const { f, routes, outbox, frames } = forwarder(['b', 'c']);
  routes.remote.replace('b', [
    { filter: 't/#', group: '' },
    { filter: 't/1', group: '' },
    { filter: 's/#', group: 'g' },
  ]);
  routes.remote.replace('c', [
    { filter: 'x', group: '' },
    { filter: 's/#', group: 'g' },
  ]);
  routes.remote.replace('d', [{ filter: 't/#', group: '' }]); // not linked
  assert.equal(f.forward(msg('t/1')), 1);
  assert.equal(f.forward(msg('nothing')), 0);
  const picks: string[] = [];
  for (let i = 0; i < 4; i++) {
    f.forward(msg('s/1'));
    assert.deepEqual([...f.sharedElsewhere!], ['g/s/#'], 'this node has no member: another node delivers');
  }
  outbox.flushNow();
  for (const node of ['b', 'c']) for (const fr of frames.get(node) ?? []) for (const m of fr.forward?.msgs ?? []) if (m.topic === 's/1') picks.push(node);
  assert.deepEqual(picks.sort(), ['b', 'b', 'c', 'c'], 'round robin over the two nodes');
  assert.equal(frames.get('b')!.length, 1, 'one turn, one forward frame');
});

test('forwarder: QoS 1 frames are numbered, kept until acknowledged, sent again after a reset, applied once on the receiver', () => {
  const { f, routes, outbox, frames } = forwarder(['b']);
  routes.remote.replace('b', [{ filter: 'q', group: '' }]);
  f.forward(msg('q', 1));
  f.forward(msg('q', 0));
  outbox.flushNow();
  const sent = frames.get('b')![0]!.forward!;
  assert.equal(sent.seq, 1);
  const resent: Frame[] = [];
  f.linkUp('b', { send: (fr) => resent.push(fr) });
  assert.equal(resent.length, 1, 'unacknowledged: sent again');
  assert.deepEqual(
    resent[0]!.forward!.msgs.map((m) => m.qos),
    [1],
    'QoS 0 is never kept',
  );
  f.acked('b', { epoch: sent.epoch!, seq: 1 });
  const after: Frame[] = [];
  f.linkUp('b', { send: (fr) => after.push(fr) });
  assert.equal(after.length, 0, 'acknowledged: gone');

  const delivered: Message[] = [];
  const rx = forwarder([], delivered);
  rx.f.receive('a', sent);
  rx.f.receive('a', sent); // sent again after a reset
  assert.equal(delivered.length, 2, 'the frame of two messages applied once');
  const acks: Frame[] = [];
  rx.f.sendAcks(() => ({ send: (fr) => acks.push(fr) }));
  assert.deepEqual(acks, [{ forward_ack: { epoch: sent.epoch, seq: 1 } }]);
});

test('frame table: each body goes to its handler with the sending node; a route gap closes the link', () => {
  const calls: string[] = [];
  const rec = (name: string) => (node: string) => calls.push(`${name}:${node}`);
  const parts: FrameParts = {
    forwarder: { receive: rec('forward'), acked: rec('ack') },
    routes: { receive: () => 'gap' },
    retained: { receive: () => calls.push('retained') },
    takeover: {
      onRequest: rec('takeover'),
      onReply: rec('reply'),
      onEnd: rec('end'),
      onRest: () => calls.push('rest'),
      onPush: rec('push'),
      onPushRefused: rec('pushRefused'),
      onBarrier: () => calls.push('barrier'),
      onBarrierDone: rec('barrierDone'),
      onRestAck: rec('restAck'),
    },
    members: { receive: rec('members') },
    admin: { onRequest: rec('adminReq'), onReply: rec('adminRep') },
    leaving: rec('leave'),
  };
  const table = peerFrameHandlers(parts);
  const closed: string[] = [];
  const from = { node: 'b', close: (why: string) => closed.push(why) };
  const frames: Frame[] = [
    { forward: { msgs: [] } },
    { forward_ack: { epoch: 1, seq: 1 } },
    { retained: { entries: [] } },
    { leave: {} },
    { members: { members: [], forget: [] } },
    { takeover: { id: 1, clientid: 'c', clean: false } },
    { takeover_reply: { id: 1, found: false, state: Buffer.alloc(0) } },
    { takeover_end: { clientid: 'c' } },
    { takeover_rest: { clientid: 'c', deliveries: Buffer.alloc(0) } },
    { session_push: { clientid: 'c', state: Buffer.alloc(0) } },
    { session_push_refused: { clientid: 'c', reason: 'x' } },
    { takeover_barrier: { clientid: 'c', old_node: 'x' } },
    { takeover_barrier_done: { clientid: 'c' } },
    { admin_request: { id: 1, op: 'x', args: Buffer.alloc(0) } },
    { admin_reply: { id: 1, ok: true, result: Buffer.alloc(0), error: '' } },
  ];
  for (const fr of frames) assert.ok(dispatchFrame(table, from, fr));
  assert.deepEqual(calls, [
    'forward:b',
    'ack:b',
    'retained',
    'leave:b',
    'members:b',
    'takeover:b',
    'reply:b',
    'end:b',
    'rest',
    'push:b',
    'pushRefused:b',
    'barrier',
    'barrierDone:b',
    'adminReq:b',
    'adminRep:b',
  ]);
  assert.equal(dispatchFrame(table, from, { routes: { snapshot: false, seq: 5, add: [], del: [], clients_add: [], clients_del: [] } }), 'routes');
  assert.deepEqual(closed, ['route sequence gap']);
  assert.equal(dispatchFrame(table, from, { heartbeat: { at: 1 } }), undefined, 'handshake and heartbeat frames are not ours');
});

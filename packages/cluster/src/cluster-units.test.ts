import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '@vireo/broker';
import { nonce, proof, sessionKeys, verify } from './auth.js';
import { FRAGMENT_BYTES, Opener, SEAL_OVERHEAD, Sealer, decodeFrame, encodeFrame } from './seal.js';
import { RouteTable } from './route-table.js';
import { ClientRegistry } from './client-registry.js';
import { decodeState, encodeState } from './session-codec.js';
import { pickNode } from './shared-pick.js';
import { fromWire, toWire } from './wire.js';

test('a message keeps its properties across the wire', () => {
  const msg: Message = {
    id: 1,
    topic: 'a/b',
    payload: Buffer.from('hi'),
    qos: 1,
    retain: true,
    properties: {
      payloadFormatIndicator: false,
      messageExpiryInterval: 30,
      contentType: '',
      responseTopic: 'r',
      correlationData: Buffer.from([0, 1]),
      userProperties: { k: ['1', '2'], j: 'x' },
    },
    from: 'c1',
    timestamp: 1_700_000_000_123,
    expiresAt: 1_700_000_030_123,
  };
  // a forward (protocol 4) names where the message was published and its id there
  const back = fromWire(toWire(msg, 'a@h'));
  assert.deepEqual({ ...back, id: 1 }, { ...msg, origin: 'a@h', originId: 1, sampledAt: undefined, encodedKey: -1, encodedOne: undefined, encoded: undefined });
  // sent on by the node it came to, the origin stays the first node's
  const again = fromWire(toWire(back, 'b@h'));
  assert.deepEqual([again.origin, again.originId], ['a@h', 1]);
  // from a release that does not say: not known ('' / 0), never taken for the receiver's own
  const old = fromWire(toWire(msg));
  assert.equal(old.origin, '');
  assert.equal(old.originId, 0);
  const bare = fromWire(toWire({ ...msg, properties: undefined }));
  assert.equal(bare.properties, undefined);
});

test('session state crosses nodes with its Buffers, without encode caches', () => {
  const msg: Message = {
    id: 7,
    topic: 't',
    payload: Buffer.from('p'),
    qos: 1,
    retain: false,
    properties: undefined,
    from: 'c',
    timestamp: 1,
    expiresAt: 0,
    encodedKey: 2,
    encodedOne: Buffer.from('y'),
    encoded: [Buffer.from('x')],
  };
  const d = { msg, qos: 1 as const, retain: false, subIds: [3], share: undefined };
  const state = {
    clientId: 'c',
    createdAt: 5,
    expiryInterval: 60,
    subscriptions: [['t', { qos: 1 as const, nl: false, rap: false, rh: 0 as const }]] as never,
    inflight: [{ pid: 1, delivery: d, state: 'publish' as const, sentAt: 9 }],
    mqueue: [d],
    awaitingRel: [[2, 3]] as [number, number][],
    nextPacketId: 4,
  };
  // protocol 2 peers get the v8 serialization, which would carry any field: the caches are left out
  const old = decodeState(encodeState(state, 2));
  assert.equal(old.mqueue[0]!.msg.encoded, undefined);
  assert.equal(old.mqueue[0]!.msg.encodedOne, undefined);
  assert.equal(old.inflight[0]!.delivery.msg.encodedOne, undefined);
  const back = decodeState(encodeState(state));
  assert.ok(Buffer.isBuffer(back.mqueue[0]!.msg.payload));
  assert.equal(back.mqueue[0]!.msg.payload.toString(), 'p');
  assert.equal(back.mqueue[0]!.msg.encoded, undefined);
  assert.deepEqual(back.inflight[0]!.delivery.subIds, [3]);
  assert.deepEqual(back.awaitingRel, [[2, 3]]);
});

test('the client registry: the latest node to report a clientid owns it; a purge forgets only its own', () => {
  const r = new ClientRegistry();
  r.apply('a', ['c1', 'c2'], []);
  r.apply('b', ['c1'], []);
  assert.equal(r.owner('c1'), 'b');
  r.apply('a', [], ['c1']);
  assert.equal(r.owner('c1'), 'b');
  r.purge('a');
  assert.equal(r.owner('c2'), undefined);
  assert.equal(r.owner('c1'), 'b');
});

test('the handshake proofs bind cookie, role, both nonces, both names and the version', () => {
  const f = { dialer: 'a@h', acceptor: 'b@h', dialerNonce: nonce(), acceptorNonce: nonce(), version: 2 };
  const mac = proof('c', 'dialer', f);
  assert.ok(verify('c', 'dialer', f, mac));
  assert.ok(!verify('d', 'dialer', f, mac), 'another cookie');
  assert.ok(!verify('c', 'acceptor', f, mac), 'the other direction');
  assert.ok(!verify('c', 'dialer', { ...f, dialerNonce: nonce() }, mac), 'another dialer nonce');
  assert.ok(!verify('c', 'dialer', { ...f, acceptorNonce: nonce() }, mac), 'another acceptor nonce (a replay)');
  assert.ok(!verify('c', 'dialer', { ...f, dialer: 'x@h' }, mac), 'another dialer name');
  assert.ok(!verify('c', 'dialer', { ...f, acceptor: 'x@h' }, mac), 'another acceptor name');
  assert.ok(!verify('c', 'dialer', { ...f, version: 3 }, mac), 'another version');
  assert.ok(!verify('c', 'dialer', f, undefined));
  const k = sessionKeys('c', f);
  assert.notDeepEqual(k.dialerToAcceptor, k.acceptorToDialer);
});

test('sealed frames open only in sequence, unaltered, with the right key', () => {
  const k = sessionKeys('c', { dialer: 'a@h', acceptor: 'b@h', dialerNonce: nonce(), acceptorNonce: nonce(), version: 2 });
  const s = new Sealer(k.dialerToAcceptor);
  const o = new Opener(k.dialerToAcceptor);
  const [one] = s.seal({ heartbeat: { at: 1 } }) as [Buffer];
  const [two] = s.seal({ leave: {} }) as [Buffer];
  assert.deepEqual(o.open(one), { heartbeat: { at: 1 } });
  assert.match(String(o.open(one)), /out of sequence/, 'a replay');
  const bent = Buffer.from(two);
  bent[bent.length - 1] ^= 1;
  assert.match(String(new Opener(k.dialerToAcceptor).open(bent)), /MAC/);
  assert.match(String(new Opener(k.acceptorToDialer).open(one)), /MAC/, "the other direction's key");
  assert.match(String(o.open(encodeFrame({ leave: {} }))), /unsealed/);
  assert.deepEqual(o.open(two), { leave: {} });
  // a sealed frame is still a Frame message (the seal is field 60)
  assert.deepEqual(decodeFrame(one).heartbeat, { at: 1 });
  // a big frame goes in fragments, each small, each sealed; it opens whole at the last
  const big = {
    retained: { entries: [{ msg: { topic: 't', payload: Buffer.alloc(3 * FRAGMENT_BYTES + 5, 7), qos: 0, retain: true, from: 'c', timestamp: 1, expires_at: 0 }, origin: 'a@h' }] },
  };
  const parts = s.seal(big);
  assert.equal(parts.length, 4);
  for (const p of parts) assert.ok(p.length <= FRAGMENT_BYTES + SEAL_OVERHEAD);
  assert.equal(o.open(parts[0]!), undefined);
  assert.equal(o.open(parts[1]!), undefined);
  assert.equal(o.open(parts[2]!), undefined);
  const whole = o.open(parts[3]!) as { retained: { entries: { msg: { payload: Buffer } }[] } };
  assert.equal(whole.retained.entries[0]!.msg.payload.length, 3 * FRAGMENT_BYTES + 5);
  // a fragment altered or dropped breaks the frame
  const p2 = s.seal(big);
  assert.match(String(o.open(p2[1]!)), /out of sequence/);
});

test("a node's routes replace, apply and purge without touching other nodes", () => {
  const t = new RouteTable();
  t.replace('b', [
    { filter: 'a/+', group: '' },
    { filter: 's/#', group: 'g' },
  ]);
  t.apply(
    'c',
    [
      { filter: 'a/+', group: '' },
      { filter: 's/#', group: 'g' },
    ],
    [],
  );
  const plain: string[] = [];
  t.plain.match('a/x', (node) => plain.push(node));
  assert.deepEqual(plain.sort(), ['b', 'c']);
  assert.equal(t.purge('b'), 2);
  const shared: string[] = [];
  t.shared.match('s/1', (_g, nodes) => shared.push(...nodes));
  assert.deepEqual(shared, ['c']);
  t.apply('c', [], [{ filter: 's/#', group: 'g' }]);
  assert.equal(t.shared.size, 0);
  assert.equal(t.count('c'), 1);
});

test('shared groups: local prefers this node, hash strategies agree across nodes', () => {
  const nodes = ['a', 'b', 'c'];
  assert.equal(pickNode('local', nodes, 'b', true, { value: 0 }, 'p', 't'), 'b');
  const h1 = pickNode('hash_clientid', nodes, 'a', true, { value: 0 }, 'pub1', 't');
  const h2 = pickNode('hash_clientid', nodes, 'c', true, { value: 5 }, 'pub1', 'u');
  assert.equal(h1, h2);
  const rr = { value: 0 };
  assert.deepEqual(
    [0, 1, 2, 3].map(() => pickNode('round_robin', nodes, 'a', true, rr, 'p', 't')),
    ['a', 'b', 'c', 'a'],
  );
});

test('sticky keeps picking one node until it has no members left', () => {
  const group = { value: 0 };
  const first = pickNode('sticky', ['a', 'b', 'c'], 'a', true, group, 'p', 't');
  for (let i = 0; i < 20; i++) assert.equal(pickNode('sticky', ['a', 'b', 'c'], 'a', true, group, 'p', `t${i}`), first);
  const rest = ['a', 'b', 'c'].filter((n) => n !== first);
  const next = pickNode('sticky', rest, 'a', true, group, 'p', 't');
  assert.ok(rest.includes(next));
  for (let i = 0; i < 20; i++) assert.equal(pickNode('sticky', rest, 'a', true, group, 'p', 't'), next);
});

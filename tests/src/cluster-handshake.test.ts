/**
 * Attacks on the cluster port, against real nodes: a stranger with the old default cookie,
 * a relay in the middle of two nodes that share a secret cookie, a replayed hello, a peer
 * of another protocol version. Each must fail, logged with the peer's address.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_MIN, PROTOCOL_VERSION, nonce, proof } from '@vireo/cluster';
import type { MqttClient } from 'mqtt';
import { connect, endAll, freePort, waitFor } from './harness.js';
import { startNode, waitLog, waitMembers, logsMatching, type ClusterNode } from './cluster-nodes.js';
import { existsSync } from 'node:fs';
import { CookiePeer, PeerStream, Relay } from './cluster-peer-attacker.js';

const T = { timeout: 120_000 };
const nodes: ClusterNode[] = [];
const strangers: { close(): void }[] = [];
after(async () => {
  for (const s of strangers) s.close();
  for (const n of nodes) n.proc.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.proc.waitExit()));
});

const PEER = /^(ipv4:)?127\.0\.0\.1:\d+$/;

test('a stranger with the old default cookie is refused, logged with its address', T, async () => {
  const a = startNode({ name: 'hsa@127.0.0.1', rpcPort: await freePort(), mqttPort: await freePort(), seeds: [] });
  nodes.push(a);
  await a.proc.waitForLog('started', 20_000);
  const s = new PeerStream(a.rpcPort);
  strangers.push(s);
  const mine = nonce();
  s.send({ hello: { node: 'stranger@203.0.113.9', addr: '203.0.113.9:5370', nonce: mine, version_min: PROTOCOL_VERSION, version_max: PROTOCOL_VERSION } });
  const ch = (await s.next((f) => f.challenge !== undefined, 'a challenge')).challenge!;
  // the node proved itself first; the stranger answers with the published default
  assert.equal(ch.mac?.length, 32);
  const facts = { dialer: 'stranger@203.0.113.9', acceptor: ch.node, dialerNonce: mine, acceptorNonce: ch.nonce, version: ch.version! };
  s.send({ proof: { mac: proof('vireosecretcookie', 'dialer', facts) } });
  const refused = await s.next((f) => f.refused !== undefined, 'a refusal');
  assert.equal(refused.refused!.reason, 'cookie mismatch');
  await waitFor(() => s.ended, 'the stream closed');
  const line = await waitLog(a, 'Refused cluster peer', (l) => l.peer_node === 'stranger@203.0.113.9');
  assert.equal(line.level, 'error');
  assert.equal(line.reason, 'cookie mismatch');
  assert.match(String(line.peer), PEER);
  assert.equal(logsMatching(a, 'Cluster peer admitted', (l) => l.peer_node === 'stranger@203.0.113.9').length, 0);
});

test('a peer of another protocol version is refused, both versions named', T, async () => {
  const a = nodes[0]!;
  const s = new PeerStream(a.rpcPort);
  strangers.push(s);
  s.send({ hello: { node: 'future@127.0.0.1', addr: '127.0.0.1:1', nonce: nonce(), version_min: PROTOCOL_VERSION + 1, version_max: PROTOCOL_VERSION + 2 } });
  const refused = await s.next((f) => f.refused !== undefined, 'a refusal');
  const want = `protocol version: future@127.0.0.1 speaks ${PROTOCOL_VERSION + 1}-${PROTOCOL_VERSION + 2}, ${a.name} speaks ${PROTOCOL_MIN}-${PROTOCOL_VERSION}`;
  assert.equal(refused.refused!.reason, want);
  assert.equal(
    s.frames().some((f) => f.challenge),
    false,
    'no proof given to a peer we cannot talk to',
  );
  const line = await waitLog(a, 'Refused cluster peer', (l) => l.peer_node === 'future@127.0.0.1');
  assert.equal(line.reason, want);
  assert.match(String(line.peer), PEER);
});

test('a relay between two nodes with a secret cookie cannot inject or replay a frame; a replayed hello is refused; all logged on both sides', T, async () => {
  const a = nodes[0]!;
  const relay = new Relay(a.rpcPort);
  strangers.push(relay);
  await relay.listen();
  // b only knows the relay: it dials it, and the relay passes everything on to a
  const b = startNode({ name: 'hsb@127.0.0.1', rpcPort: await freePort(), mqttPort: await freePort(), seeds: [relay.port] });
  nodes.push(b);
  let sub: MqttClient | undefined;
  try {
    await waitMembers(a, [a.name, b.name], 30_000);
    await waitFor(() => relay.streams.length === 1 && relay.streams[0]!.acceptorFrames.length >= 2, 'the relayed handshake');
    // a admitted b through the relay, and said from where
    const admitted = await waitLog(a, 'Cluster peer admitted', (l) => l.peer_node === b.name);
    assert.match(String(admitted.peer), PEER);
    const s1 = relay.streams[0]!;
    const [hello, proofFrame] = s1.dialerFrames;

    // 1. a frame the relay makes up (a message for a's subscribers) ends the stream unseen
    sub = await connect(a.url, { clientId: 'relay-watch' });
    const got: string[] = [];
    sub.on('message', (t) => got.push(t));
    await sub.subscribeAsync('relay/#', { qos: 0 });
    s1.toAcceptor.send({
      forward: { msgs: [{ topic: 'relay/injected', payload: Buffer.from('x'), qos: 0, retain: false, from: 'mallory', timestamp: Date.now(), expires_at: 0 }] },
    });
    const unsealed = await waitLog(a, 'Refused cluster peer', (l) => l.peer_node === b.name && String(l.reason).includes('unsealed frame'));
    assert.equal(unsealed.level, 'error');
    assert.match(String(unsealed.peer), PEER);
    // a message published on a now comes after the injected one would have: only it arrives
    sub.publish('relay/marker', 'm');
    await waitFor(() => got.includes('relay/marker'), 'the marker');
    assert.deepEqual(got, ['relay/marker'], 'the injected message was delivered');

    // 2. b dials again through the relay; a frame of b's played a second time is refused
    await waitFor(() => relay.streams.length >= 2 && relay.streams[1]!.dialerFrames.length >= 4, 'a second relayed stream with sealed frames', 60_000);
    const s2 = relay.streams[1]!;
    s2.toAcceptor.call.write(s2.dialerFrames[s2.dialerFrames.length - 1]!);
    const replayed = await waitLog(a, 'Refused cluster peer', (l) => l.peer_node === b.name && String(l.reason).includes('out of sequence'));
    assert.match(String(replayed.reason), /replayed or dropped/);

    // 3. toward the dialer: a frame the relay makes up ends b's stream, and b says so
    await waitFor(() => relay.streams.length >= 3 && relay.streams[2]!.acceptorFrames.length >= 2, 'a third relayed stream', 20_000);
    await waitFor(() => logsMatching(a, 'Cluster peer admitted', (l) => l.peer_node === b.name).length >= 3, 'the third admission');
    relay.streams[2]!.fromDialer.write(Buffer.from(relay.streams[2]!.acceptorFrames[0]!));
    const atB = await waitLog(b, 'Refused by cluster peer', (l) => String(l.reason).includes('unsealed frame') || String(l.reason).includes('out of sequence'));
    assert.equal(atB.peer, `127.0.0.1:${relay.port}`, 'b names the address it dialled');

    // 4. b's hello and proof from the first stream, played again on a new stream: refused
    const replay = new PeerStream(a.rpcPort);
    strangers.push(replay);
    replay.send(hello!);
    await replay.next((f) => f.challenge !== undefined, 'a fresh challenge');
    replay.send(proofFrame!);
    assert.equal((await replay.next((f) => f.refused !== undefined, 'a refusal')).refused!.reason, 'cookie mismatch');
    const line = await waitLog(a, 'Refused cluster peer', (l) => l.peer_node === b.name && l.reason === 'cookie mismatch');
    assert.match(String(line.peer), PEER);
    // the cluster itself is fine: b still reaches a (through the relay) and a reaches b
    await waitMembers(a, [a.name, b.name], 30_000);
  } finally {
    await endAll(sub);
  }
});

test('a peer that knows the cookie still cannot pass arguments the HTTP API would refuse: a trace aimed at /etc', T, async () => {
  // a node with its HTTP API on: that is what serves admin operations
  const a = startNode({
    name: 'hsc@127.0.0.1',
    rpcPort: await freePort(),
    mqttPort: await freePort(),
    seeds: [],
    extraEnv: { VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${await freePort()}` },
  });
  nodes.push(a);
  await a.proc.waitForLog('started', 30_000);
  const peer = new CookiePeer('cluster-test-cookie', 'insider@127.0.0.1');
  strangers.push(peer);
  await peer.join(a.rpcPort);
  await waitLog(a, 'Cluster node running', (l) => l.peer_node === 'insider@127.0.0.1', 20_000);
  const end = Date.now() + 60_000;
  const bad = await peer.call(1, 'trace.start', { name: 'pwn', type: 'topic', filter: '#', file: '/etc/vireo-pwned', endAt: end, maxBytes: 4096 });
  assert.equal(bad.ok, false);
  assert.match(bad.error, /^trace\.start: bad arguments: .*additional properties/);
  assert.equal(existsSync('/etc/vireo-pwned'), false);
  const logged = await waitLog(a, 'Admin operation from the cluster refused: bad arguments', (l) => l.op === 'trace.start');
  assert.match(String(logged.err), /additional properties/);
  const kick = await peer.call(2, 'client.kick', { clientid: { $ne: '' } });
  assert.deepEqual([kick.ok, /clientid must be string/.test(kick.error)], [false, true]);
  // a well-formed call is answered: the check is on arguments, not on the peer
  const listed = await peer.call(3, 'trace.list', null);
  assert.equal(listed.ok, true);
  assert.deepEqual(JSON.parse(listed.result.toString()), []);
});

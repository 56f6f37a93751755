/**
 * The cluster port before the cookie check, against a real node: a 24 MiB frame is
 * refused by the receive limit, a stream that keeps sending bytes without completing the
 * handshake is cut at the fixed deadline, anything but a handshake frame ends the stream,
 * and one address cannot hold more than 8 streams in their handshake.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { freePort, waitFor } from './harness.js';
import { startNode, waitLog, type ClusterNode } from './cluster-nodes.js';
import { PeerStream } from './cluster-peer-attacker.js';

const T = { timeout: 120_000 };
let node: ClusterNode | undefined;
const streams: PeerStream[] = [];
after(async () => {
  for (const s of streams) s.close();
  node?.proc.kill('SIGKILL');
  await node?.proc.waitExit();
});

async function theNode(): Promise<ClusterNode> {
  if (node) return node;
  node = startNode({ name: 'lim@127.0.0.1', rpcPort: await freePort(), mqttPort: await freePort(), seeds: [] });
  await node.proc.waitForLog('started', 20_000);
  return node;
}

test('a 24 MiB frame before the handshake is refused by the receive limit', T, async () => {
  const n = await theNode();
  const s = new PeerStream(n.rpcPort);
  streams.push(s);
  let code: number | undefined;
  s.call.on('error', (e: grpc.ServiceError) => (code = e.code));
  s.send(Buffer.alloc(24 * 1024 * 1024, 1));
  await waitFor(() => code !== undefined, 'the stream failed', 20_000);
  assert.equal(code, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(
    s.frames().some((f) => f.challenge),
    false,
    'the node answered nothing',
  );
  const line = await waitLog(n, 'Refused cluster peer', (l) => String(l.reason).startsWith('the stream failed before the handshake'));
  assert.match(String(line.peer), /127\.0\.0\.1:\d+/);
  // the node is unharmed: a proper hello still gets a challenge
  const ok = new PeerStream(n.rpcPort);
  streams.push(ok);
  ok.send({ hello: { node: 'probe@127.0.0.1', addr: '127.0.0.1:1', nonce: Buffer.alloc(32, 2), version_min: 2, version_max: 2 } });
  await ok.next((f) => f.challenge !== undefined, 'a challenge');
  ok.close();
});

test('a stream that keeps sending bytes is cut at the handshake deadline; a non-handshake frame at once', T, async () => {
  const n = await theNode();
  // HTTP/2 by hand: a gRPC message announced as 1 MB, then one byte every 100 ms, forever
  const session = http2.connect(`http://127.0.0.1:${n.rpcPort}`);
  const req = session.request({ ':method': 'POST', ':path': '/vireo.cluster.Peer/Link', 'content-type': 'application/grpc', te: 'trailers' });
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1_000_000, 1);
  req.write(head);
  const started = Date.now();
  const drip = setInterval(() => req.write(Buffer.from([0])), 100);
  let closedAfter: number | undefined;
  // the node ends its side (trailers with END_STREAM) and reads no more
  req.on('end', () => (closedAfter ??= Date.now() - started));
  req.on('close', () => (closedAfter ??= Date.now() - started));
  req.on('error', () => undefined);
  req.resume();
  try {
    await waitFor(() => closedAfter !== undefined, 'the node cut the stream', 30_000);
    // it kept sending all along: only the fixed deadline (5 s here) can have ended it
    assert.ok(closedAfter! >= 4_500, `cut after ${closedAfter} ms`);
    const line = await waitLog(n, 'Refused cluster peer', (l) => String(l.reason).startsWith('no handshake within'));
    assert.equal(line.reason, 'no handshake within 5000 ms');
    assert.match(String(line.peer), /127\.0\.0\.1:\d+/);
  } finally {
    clearInterval(drip);
    session.destroy();
  }

  // a frame that is not the handshake's (a heartbeat) ends the stream at once, with a refusal
  const s = new PeerStream(n.rpcPort);
  streams.push(s);
  s.send({ heartbeat: { at: Date.now() } });
  const r = await s.next((f) => f.refused !== undefined, 'a refusal');
  assert.match(r.refused!.reason, /^an unexpected frame before the handshake completed/);
  await waitFor(() => s.ended, 'the stream closed');
});

test('at most 8 streams from one address in their handshake: the next is cut, logged', T, async () => {
  const n = await theNode();
  const idle: PeerStream[] = [];
  for (let i = 0; i < 8; i++) {
    const s = new PeerStream(n.rpcPort);
    streams.push(s);
    idle.push(s);
    // a hello makes sure the node has taken the stream before the next one
    s.send({ hello: { node: `idle${i}@127.0.0.1`, addr: '127.0.0.1:1', nonce: Buffer.alloc(32, i), version_min: 2, version_max: 2 } });
    await s.next((f) => f.challenge !== undefined, `challenge ${i}`);
  }
  const ninth = new PeerStream(n.rpcPort);
  streams.push(ninth);
  ninth.send({ hello: { node: 'ninth@127.0.0.1', addr: '127.0.0.1:1', nonce: Buffer.alloc(32, 9), version_min: 2, version_max: 2 } });
  await waitFor(() => ninth.ended, 'the ninth stream cut');
  assert.equal(
    ninth.frames().some((f) => f.challenge),
    false,
  );
  const line = await waitLog(n, 'too many unauthenticated streams');
  assert.equal(line.pending, 8);
  // once those end, the address may open streams again (the node hears of the cancels a moment later)
  for (const s of idle) s.close();
  const until = Date.now() + 15_000;
  for (let i = 0; ; i++) {
    const again = new PeerStream(n.rpcPort);
    streams.push(again);
    again.send({ hello: { node: `again${i}@127.0.0.1`, addr: '127.0.0.1:1', nonce: Buffer.alloc(32, 10), version_min: 2, version_max: 2 } });
    await waitFor(() => again.ended || again.frames().some((f) => f.challenge !== undefined), 'an answer');
    if (!again.ended) break;
    assert.ok(Date.now() < until, 'the address stayed capped after its streams closed');
  }
});

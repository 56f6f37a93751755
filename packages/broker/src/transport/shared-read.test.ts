import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { encode, type Packet } from '@vireo/mqtt';
import { PAUSE_HOLD, pauseReads, resumeReads } from '../limits/read-gate.js';
import { until } from '../testing/wait.js';
import { Connection, type ConnectionHandler } from './connection.js';
import { setReadTarget, sharedReadSocket } from './shared-read.js';

/** A server whose accepted sockets read into the shared buffer, as the plain TCP listener's do. */
async function server(): Promise<{ port: number; accepted: () => Promise<net.Socket>; close(): Promise<void> }> {
  const waiting: ((s: net.Socket) => void)[] = [];
  const ready: net.Socket[] = [];
  const srv = net.createServer({ pauseOnConnect: true }, (raw) => {
    const s = sharedReadSocket(raw)!;
    const w = waiting.shift();
    if (w) w(s);
    else ready.push(s);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as net.AddressInfo).port,
    accepted: () => new Promise((resolve) => (ready.length ? resolve(ready.shift()!) : waiting.push(resolve))),
    close: () => new Promise((resolve) => srv.close(() => resolve())),
  };
}

function connection(socket: net.Socket, packets: Packet[], closed: string[]): Connection {
  const conn = new Connection(socket, 'peer', 'tcp:test', 1 << 20);
  const handler: ConnectionHandler = {
    onPacket: (p) => {
      packets.push(p);
      if (p.cmd === 'connect') conn.setProtocolVersion(4);
    },
    onParseError: (err) => assert.fail(err),
    onPacketTooLarge: () => assert.fail('too large'),
    onKeepaliveTimeout: () => {},
    onHandlerError: (err) => assert.fail(err as Error),
    onClose: (reason) => closed.push(reason),
  };
  conn.handler = handler;
  return conn;
}

const publish = (topic: string, payload: string, messageId: number): Buffer =>
  encode({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId, retain: false, dup: false }, { protocolVersion: 4 });
const connect = (clientId: string): Buffer => encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId }, { protocolVersion: 4 });
const payloads = (ps: Packet[]): string[] => ps.filter((p) => p.cmd === 'publish').map((p) => (p as Packet & { payload: Buffer }).payload.toString());

test('connections reading into one shared buffer: every payload keeps its bytes, across clients, split frames and pauses', async () => {
  const srv = await server();
  const a = net.connect(srv.port, '127.0.0.1');
  const b = net.connect(srv.port, '127.0.0.1');
  const packetsA: Packet[] = [];
  const packetsB: Packet[] = [];
  const closed: string[] = [];
  const connA = connection((await srv.accepted())!, packetsA, closed);
  connection((await srv.accepted())!, packetsB, closed);
  a.write(connect('a'));
  b.write(connect('b'));
  const sent: string[] = [];
  for (let i = 0; i < 50; i++) {
    a.write(publish('t/a', `a-${i}-${'x'.repeat(i * 7)}`, i + 1));
    b.write(publish('t/b', `b-${i}`, i + 1));
    sent.push(`a-${i}-${'x'.repeat(i * 7)}`);
  }
  // one frame in three pieces
  const split = publish('t/a', 'split frame', 99);
  a.write(split.subarray(0, 3));
  await until(() => payloads(packetsA).length === 50, 'the first pieces', 10_000);
  a.write(split.subarray(3, 9));
  a.write(split.subarray(9));
  sent.push('split frame');
  await until(() => payloads(packetsA).length === 51 && payloads(packetsB).length === 50, 'every publish', 10_000);
  assert.deepEqual(payloads(packetsA), sent);
  assert.deepEqual(
    payloads(packetsB),
    sent.slice(0, 50).map((_, i) => `b-${i}`),
  );

  // paused: nothing is read; resumed: what waited in the kernel arrives
  pauseReads(connA, PAUSE_HOLD);
  a.write(publish('t/a', 'while paused', 100));
  b.write(publish('t/b', 'b goes on', 51));
  await until(() => payloads(packetsB).length === 51, "b's publish", 10_000);
  assert.equal(payloads(packetsA).length, 51, 'a paused connection reads nothing');
  resumeReads(connA, PAUSE_HOLD);
  await until(() => payloads(packetsA).length === 52, "a's publish after resume", 10_000);
  assert.equal(payloads(packetsA)[51], 'while paused');

  // the client's FIN reaches the connection as a close
  a.end();
  b.end();
  await until(() => closed.length === 2, 'both closed', 10_000);
  assert.deepEqual(closed, ['tcp_closed', 'tcp_closed']);
  await srv.close();
});

test('bytes that arrive before the socket has a reader are kept and handed over first', async () => {
  const srv = await server();
  const client = net.connect(srv.port, '127.0.0.1');
  const socket = await srv.accepted();
  client.write(connect('early'));
  client.write(publish('t', 'early bytes', 1));
  await until(() => socket.bytesRead > 0, 'the bytes read', 10_000);
  const packets: Packet[] = [];
  const chunks: Buffer[] = [];
  setReadTarget(socket, { onData: (c) => chunks.push(Buffer.from(c)) });
  assert.equal(chunks.length, 0, 'handed over on the next tick, not while the reader is being set up');
  await until(() => chunks.length > 0, 'the early bytes', 10_000);
  // and a Connection built on such a socket parses them
  const client2 = net.connect(srv.port, '127.0.0.1');
  const socket2 = await srv.accepted();
  client2.write(Buffer.concat([connect('early2'), publish('t', 'parsed early', 1)]));
  await until(() => socket2.bytesRead > 0, 'the bytes read', 10_000);
  connection(socket2, packets, []);
  await until(() => payloads(packets).length === 1, 'the early publish', 10_000);
  assert.equal(payloads(packets)[0], 'parsed early');
  client.destroy();
  client2.destroy();
  socket.destroy();
  socket2.destroy();
  await srv.close();
});

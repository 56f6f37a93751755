/** force_shutdown's backlog accounting and overload's CONNECT answers, without sockets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setParserProtocol, strictParser, type Packet } from '@vireo/mqtt';
import { Channel } from '../channel/channel.js';
import { FakeConnection, FakeContext } from '../testing/fakes.js';
import type { ForceShutdownReason } from './guard-state.js';
import { WriteBacklog } from './write-backlog.js';

function backlog(maxPackets: number, maxBytes: number) {
  const tripped: [ForceShutdownReason, number, number][] = [];
  const b = new WriteBacklog({ maxPackets, maxBytes }, (reason, packets, bytes) => tripped.push([reason, packets, bytes]));
  let sent = 0;
  /** A flush of `len` bytes in `packets` packets, after which the socket holds `pending`. */
  const flush = (len: number, packets: number, pending: number) => b.flushed(len, packets, (sent += len), pending);
  /** A flush the socket took whole: Connection does not report it. */
  const taken = (len: number) => void (sent += len);
  return { tripped, flush, taken };
}

test('force_shutdown: packets count while their bytes wait in the socket, and stop counting once taken', () => {
  const { tripped, flush, taken } = backlog(10, 0);
  flush(100, 4, 100);
  flush(100, 4, 200);
  // the first chunk taken: 4 + 4 packets pending, not 12
  flush(100, 4, 150);
  assert.deepEqual(tripped, []);
  flush(100, 4, 200);
  assert.deepEqual(tripped, [], 'two chunks taken: 4 + 4 pending');
  // a flush the socket took whole: everything before it was taken too
  taken(100);
  flush(100, 9, 100);
  assert.deepEqual(tripped, [], 'chunks before a flush that left the socket empty are not counted');
  flush(10, 2, 110);
  assert.deepEqual(tripped, [['mailbox_overflow', 11, 110]]);
  flush(10, 2, 120);
  assert.equal(tripped.length, 1, 'reported once');
});

test('force_shutdown: bytes waiting past max_heap_size', () => {
  const { tripped, flush } = backlog(0, 1000);
  flush(600, 1, 600);
  flush(600, 1, 1000);
  assert.deepEqual(tripped, []);
  flush(600, 1, 1200);
  assert.deepEqual(tripped, [['proc_heap_too_big', 2, 1200]], 'the first chunk was taken: 2 packets wait');
});

function decode(buf: Buffer, v: 4 | 5): Packet[] {
  const parser = strictParser();
  setParserProtocol(parser, v);
  const got: Packet[] = [];
  parser.on('packet', (p: Packet) => got.push(p));
  parser.parse(buf);
  return got;
}

for (const v of [5, 4] as const) {
  test(`overload: a v${v} CONNECT gets ${v === 5 ? '0x89 Server busy' : '3 Server unavailable'} while overloaded, counted; accepted after`, async () => {
    const ctx = new FakeContext();
    ctx.guard.overloaded = true;
    const refusedConn = new FakeConnection();
    new Channel(refusedConn.asConnection(), ctx).onPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: 'a', clean: true, keepalive: 0 });
    await new Promise((r) => setImmediate(r));
    const [ack] = decode(refusedConn.take(), v) as { reasonCode?: number; returnCode?: number }[];
    assert.equal(v === 5 ? ack?.reasonCode : ack?.returnCode, v === 5 ? 0x89 : 3);
    assert.equal(refusedConn.closeReason, 'connack_error');
    assert.equal(ctx.guard.refusedConnects, 1);
    ctx.guard.overloaded = false;
    const conn = new FakeConnection();
    new Channel(conn.asConnection(), ctx).onPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: 'b', clean: true, keepalive: 0 });
    await new Promise((r) => setImmediate(r));
    const [ok] = decode(conn.take(), v) as { reasonCode?: number; returnCode?: number }[];
    assert.equal(v === 5 ? ok?.reasonCode : ok?.returnCode, 0);
  });
}

test('overload with backoff_new_conn false: the CONNECT is handled after backoff_delay, packets behind it kept', async () => {
  const ctx = new FakeContext();
  Object.assign(ctx.guard, { overloaded: true, refuseNewConn: false, newConnDelayMs: 30 });
  const conn = new FakeConnection();
  const ch = new Channel(conn.asConnection(), ctx);
  const t0 = Date.now();
  ch.onPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'slow', clean: true, keepalive: 0 });
  ch.onPacket({ cmd: 'pingreq' });
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(decode(conn.take(), 4), [], 'nothing answered during the delay');
  for (let i = 0; i < 100 && ch.state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(Date.now() - t0 >= 30);
  const got = decode(conn.take(), 4).map((p) => p.cmd);
  assert.deepEqual(got, ['connack', 'pingresp'], 'the PINGREQ sent behind the CONNECT is answered after it');
  assert.equal(ctx.guard.delayedConnects, 1);
});

/** force_shutdown's backlog accounting and overload's CONNECT answers, without sockets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setParserProtocol, strictParser, type Packet } from '@vireo/mqtt';
import { Channel } from '../channel/channel.js';
import { FakeConnection, FakeContext } from '../testing/fakes.js';
import type { ForceShutdownReason } from './guard-state.js';
import { WriteBacklog } from './write-backlog.js';

const MB = 1024 * 1024;

function backlog(maxPackets: number, maxBytes: number) {
  const tripped: [ForceShutdownReason, number, number][] = [];
  const b = new WriteBacklog({ forceShutdown: { maxPackets, maxBytes } }, MB, (reason, mailbox, bytes) => tripped.push([reason, mailbox, bytes]));
  return { tripped, b };
}

test('force_shutdown: only what arrives while over 1 MB waits counts toward max_mailbox_size, and catching up resets it', () => {
  const { tripped, b } = backlog(10, 0);
  // a backlog under the watermark, however many packets: a slow client, not a stuck one
  b.flushed(64 * 1024, 5000, MB);
  assert.deepEqual(tripped, []);
  // over it: packets written and QoS 0 messages dropped count
  b.flushed(64 * 1024, 6, MB + 1000);
  for (let i = 0; i < 4; i++) b.dropped(MB + 1000);
  assert.deepEqual(tripped, [], '6 + 4 = max_mailbox_size');
  // back under the watermark: the count starts again
  b.flushed(100, 1, MB - 1);
  for (let i = 0; i < 10; i++) b.dropped(MB + 1);
  assert.deepEqual(tripped, []);
  b.dropped(MB + 1);
  assert.deepEqual(tripped, [['mailbox_overflow', 11, MB + 1]]);
  b.dropped(MB + 1);
  assert.equal(tripped.length, 1, 'reported once');
});

test('force_shutdown: a flush the socket took all of before resets the count', () => {
  const { tripped, b } = backlog(3, 0);
  b.flushed(100, 3, MB + 50);
  // this flush's own bytes are all that wait: everything before was taken
  b.flushed(2 * MB, 3, 2 * MB);
  b.dropped(2 * MB);
  assert.deepEqual(tripped, []);
});

test('force_shutdown: bytes waiting past max_heap_size', () => {
  const { tripped, b } = backlog(0, 3 * MB);
  b.flushed(MB, 1, 2 * MB);
  b.flushed(MB, 1, 3 * MB);
  assert.deepEqual(tripped, []);
  b.flushed(MB, 1, 3 * MB + 1);
  assert.deepEqual(tripped, [['proc_heap_too_big', 3, 3 * MB + 1]]);
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

import { test } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import type { Packet } from '@vireo/mqtt';
import { pino } from 'pino';
import type { ListenerOptions } from '../options.js';
import { Connection } from '../transport/connection.js';
import { newClientLimitCounters } from './counters.js';
import { inputLimiter, wireSize } from './input-limiter.js';
import { PAUSE_HOLD, pauseReads, resumeReads } from './read-gate.js';
import { until } from '../testing/wait.js';

/** The parts of a Connection the limiter and the read gate touch. */
function fakeConn() {
  const handled: string[] = [];
  const socket = {
    paused: false,
    pause() {
      this.paused = true;
    },
    resume() {
      this.paused = false;
    },
  };
  const conn = {
    peer: '127.0.0.1:1',
    closed: false,
    readPaused: 0,
    lastRecv: 0,
    socket,
    handler: {
      onPacket: (p: Packet) => handled.push(p.cmd === 'publish' ? `publish ${p.messageId}` : p.cmd),
      onHandlerError: () => {},
    },
  };
  return { conn, socket, handled, asConn: conn as unknown as Connection };
}

const listener = (extra: Partial<ListenerOptions>): ListenerOptions => ({ type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port: 0, maxConnections: 10, ...extra });
const pub = (id: number, size = 10) => ({ cmd: 'publish', messageId: id, length: size, qos: 1, topic: 't', payload: Buffer.alloc(0) }) as unknown as Packet;

test('no limit on the listener: no limiter at all', () => {
  const { asConn } = fakeConn();
  assert.equal(inputLimiter(asConn, { clientId: 'c' }, listener({}), { logger: pino({ enabled: false }), counters: newClientLimitCounters() }), undefined);
});

test('messages_rate: PUBLISH past the rate waits with reads paused; later packets keep their place; reads resume when all is handed on', async () => {
  const { asConn, socket, handled } = fakeConn();
  const counters = newClientLimitCounters();
  const lines: unknown[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  // 2 at once, then one every 50 ms
  const l = inputLimiter(asConn, { clientId: 'dev-1' }, listener({ messagesRate: { amount: 2, intervalMs: 100 } }), { logger, counters })!;
  const deliver = (p: Packet) => {
    if (l.admit(p)) asConn.handler.onPacket(p);
  };
  deliver(pub(1));
  deliver(pub(2));
  deliver(pub(3));
  deliver({ cmd: 'pingreq' } as Packet);
  deliver(pub(4));
  assert.deepEqual(handled, ['publish 1', 'publish 2']);
  assert.equal(socket.paused, true, 'reads paused');
  assert.equal(counters.messages, 1);
  await until(() => handled.length === 5, 'the held packets handed on');
  assert.deepEqual(handled, ['publish 1', 'publish 2', 'publish 3', 'pingreq', 'publish 4'], 'all handed on, in order');
  assert.equal(socket.paused, false, 'reading again');
  assert.equal(counters.messages, 1, 'one pause counted, not one per packet');
  assert.equal(lines.length, 1);
  assert.equal((lines[0] as { clientid: string }).clientid, 'dev-1');
  l.stop();
});

test('bytes_rate: a PUBLISH larger than the bucket passes on a full bucket; the next waits for the debt', async () => {
  const { asConn, handled } = fakeConn();
  const counters = newClientLimitCounters();
  const l = inputLimiter(asConn, { clientId: 'c' }, listener({ bytesRate: { amount: 1000, intervalMs: 1000 } }), { logger: pino({ enabled: false }), counters })!;
  assert.equal(l.admit(pub(1, 3000)), true, 'a full bucket lets a large packet through');
  assert.equal(l.admit(pub(2, 10)), false, 'then the debt is paid first');
  assert.equal(counters.bytes, 1);
  assert.deepEqual(handled, []);
  l.stop();
});

test('bytes_rate counts the bytes of every packet on the wire, not only PUBLISH; messages_rate counts PUBLISH only', async () => {
  const { asConn, handled } = fakeConn();
  const counters = newClientLimitCounters();
  const l = inputLimiter(asConn, { clientId: 'c' }, listener({ bytesRate: { amount: 100, intervalMs: 60_000 } }), { logger: pino({ enabled: false }), counters })!;
  assert.equal(wireSize(90), 92, 'fixed header byte, one length byte, the rest');
  assert.equal(wireSize(200), 203);
  assert.equal(l.admit(pub(1, 90)), true, '92 of 100 bytes');
  assert.equal(l.admit({ cmd: 'pingreq', length: 0 } as Packet), true, 'a PINGREQ is 2 bytes: 98 of 100');
  assert.equal(l.admit({ cmd: 'subscribe', length: 20 } as Packet), false, 'a SUBSCRIBE of 22 bytes waits for the rate');
  assert.equal(counters.bytes, 1);
  l.stop();
  assert.deepEqual(handled, []);

  const m = inputLimiter(asConn, { clientId: 'c' }, listener({ messagesRate: { amount: 1, intervalMs: 60_000 } }), { logger: pino({ enabled: false }), counters })!;
  assert.equal(m.admit(pub(1)), true);
  assert.equal(m.admit({ cmd: 'subscribe', length: 20 } as Packet), true, 'messages_rate does not count a SUBSCRIBE');
  assert.equal(m.admit(pub(2)), false);
  m.stop();
});

test('the read gate: reads resume only when every reason is gone; the keepalive clock restarts', () => {
  const { conn, asConn, socket } = fakeConn();
  pauseReads(asConn, PAUSE_HOLD);
  pauseReads(asConn, 1);
  resumeReads(asConn, PAUSE_HOLD);
  assert.equal(socket.paused, true, 'still paused for the rate');
  resumeReads(asConn, 1);
  assert.equal(socket.paused, false);
  assert.ok(conn.lastRecv > 0);
});

test('keepalive does not run out while the node is not reading; it does once reads resume and the client stays silent', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const socket = await accepted;
  let timeouts = 0;
  const conn = new Connection(socket, 'peer', 'tcp:test', 1 << 20);
  conn.handler = { onPacket: () => {}, onParseError: () => {}, onPacketTooLarge: () => {}, onKeepaliveTimeout: () => timeouts++, onHandlerError: () => {}, onClose: () => {} };
  try {
    pauseReads(conn, 1);
    conn.startKeepalive(40);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(timeouts, 0, 'paused: the silence is ours');
    resumeReads(conn, 1);
    await until(() => timeouts >= 1, 'the keepalive to run out');
    assert.ok(timeouts >= 1, 'reading again and the client silent: keepalive runs out');
  } finally {
    conn.close('test');
    client.destroy();
    socket.destroy();
    server.close();
  }
});

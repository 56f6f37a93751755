import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { Packet } from '@vireo/mqtt';
import { Connection, type ConnectionHandler } from './connection.js';

/** A server-side Connection on a real loopback socket, with every socket.write recorded. */
async function pair(
  onPacket: (c: Connection, p: Packet) => void = () => {},
): Promise<{ conn: Connection; client: net.Socket; writes: Buffer[]; originals: Buffer[]; received: () => Buffer; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  const socket = await accepted;
  const writes: Buffer[] = [];
  const originals: Buffer[] = [];
  const write = socket.write.bind(socket) as (b: Buffer) => boolean;
  socket.write = ((b: Buffer) => {
    writes.push(Buffer.from(b));
    originals.push(b);
    return write(b);
  }) as typeof socket.write;
  const conn = new Connection(socket, 'peer', 'tcp:test', 1 << 20);
  const handler: ConnectionHandler = {
    onPacket: (p) => onPacket(conn, p),
    onParseError: () => {},
    onPacketTooLarge: () => {},
    onKeepaliveTimeout: () => {},
    onHandlerError: (err) => {
      throw err;
    },
    onClose: () => {},
  };
  conn.handler = handler;
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  return {
    conn,
    client,
    writes,
    originals,
    received: () => Buffer.concat(chunks),
    close: () => {
      client.destroy();
      socket.destroy();
      server.close();
    },
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const bytes = (...xs: number[]) => Buffer.from(xs);

test('writes from outside a read are joined into one socket write at the end of the I/O phase, in order', async () => {
  const p = await pair();
  try {
    p.conn.write(bytes(1, 2));
    p.conn.write(bytes(3));
    await Promise.resolve();
    process.nextTick(() => p.conn.write(bytes(4, 5)));
    await new Promise<void>((resolve) => process.nextTick(resolve));
    assert.equal(p.writes.length, 0, 'nothing written before the end of the I/O phase');
    assert.equal(p.conn.backlog, 5, 'queued bytes count as backlog');
    await nextTurn();
    assert.deepEqual(p.writes, [bytes(1, 2, 3, 4, 5)]);
    p.conn.write(bytes(6));
    await nextTurn();
    assert.deepEqual(p.writes, [bytes(1, 2, 3, 4, 5), bytes(6)], 'the next turn has its own write');
  } finally {
    p.close();
  }
});

test("what a client's read writes back goes at the end of that read, after what was queued for it before", async () => {
  // PINGREQ → the handler answers with two packets of its own
  const p = await pair((c) => {
    c.write(bytes(0xd0, 0x00));
    c.write(bytes(0xaa));
  });
  try {
    p.conn.write(bytes(0x01)); // routed to it earlier in the turn (another client's message)
    p.conn.onData(bytes(0xc0, 0x00));
    assert.deepEqual(p.writes, [bytes(0x01, 0xd0, 0x00, 0xaa)], 'one write, at the end of the read, order kept');
    p.conn.write(bytes(0x02));
    await nextTurn();
    assert.deepEqual(p.writes, [bytes(0x01, 0xd0, 0x00, 0xaa), bytes(0x02)], 'later output still waits for the end of the phase');
    await waitForBytes(p, 5);
    assert.deepEqual(p.received(), bytes(0x01, 0xd0, 0x00, 0xaa, 0x02));
  } finally {
    p.close();
  }
});

test("a publisher's read: the first message routed to a subscriber in the phase goes when that read is handled, later ones at the end of the phase, the publisher's acks after them", async () => {
  const sub = await pair();
  // the publisher's PUBLISH (a PINGREQ stands for it) is routed to the subscriber, then acknowledged
  const pub = await pair((c) => {
    sub.conn.write(bytes(0x30, 0x01));
    c.write(bytes(0x40, 0x02));
  });
  const order: string[] = [];
  const record = (name: string, p: { writes: Buffer[] }) => {
    const push = p.writes.push.bind(p.writes);
    p.writes.push = (...b: Buffer[]) => {
      order.push(name);
      return push(...b);
    };
  };
  record('sub', sub);
  record('pub', pub);
  try {
    pub.conn.onData(bytes(0xc0, 0x00));
    assert.deepEqual(order, ['sub'], "the message is written at once; the publisher's ack waits");
    pub.conn.onData(bytes(0xc0, 0x00));
    assert.deepEqual(order, ['sub'], 'a second message to the same subscriber in the phase waits for the end of the phase');
    await nextTurn();
    assert.deepEqual(order, ['sub', 'sub', 'pub'], 'then the joined rest, then the acks (one write)');
    assert.deepEqual([...sub.writes], [bytes(0x30, 0x01), bytes(0x30, 0x01)]);
    assert.deepEqual([...pub.writes], [bytes(0x40, 0x02, 0x40, 0x02)]);
    // a new phase: the first message goes at once again
    pub.conn.onData(bytes(0xc0, 0x00));
    assert.deepEqual(order.slice(3), ['sub']);
    await nextTurn();
    assert.deepEqual(order.slice(3), ['sub', 'pub']);
  } finally {
    sub.close();
    pub.close();
  }
});

test('a read that carries several packets: what they route to one subscriber goes as one write when the read is handled', async () => {
  const sub = await pair();
  const pub = await pair(() => sub.conn.write(bytes(0x30, 0x01)));
  try {
    pub.conn.onData(bytes(0xc0, 0x00, 0xc0, 0x00, 0xc0, 0x00));
    assert.deepEqual([...sub.writes], [bytes(0x30, 0x01, 0x30, 0x01, 0x30, 0x01)], 'one write for the three, at the end of the read');
  } finally {
    sub.close();
    pub.close();
  }
});

test('a packet routed to many subscribers: each gets its message when the read is handled, header and shared payload together', async () => {
  const subs = [await pair(), await pair(), await pair()];
  const payload = Buffer.alloc(16, 7);
  const pub = await pair(() => {
    for (const s of subs) {
      s.conn.write(bytes(0x30, 0x10));
      s.conn.write(payload, true);
    }
  });
  try {
    pub.conn.onData(bytes(0xc0, 0x00));
    for (const s of subs) assert.deepEqual([...s.writes], [Buffer.concat([bytes(0x30, 0x10), payload])], 'one write per subscriber, at once');
  } finally {
    for (const p of [...subs, pub]) p.close();
  }
});

test('two publishers in one phase: each routed message goes when its read is handled, before either ack; a publisher that is also routed to keeps its order', async () => {
  const subA = await pair();
  const subB = await pair();
  const pubA = await pair((c) => {
    subA.conn.write(bytes(0x30, 0x01));
    c.write(bytes(0x40, 0x02));
  });
  // pubB's message goes to subB and to pubA (a client that both publishes and subscribes)
  const pubB = await pair((c) => {
    subB.conn.write(bytes(0x30, 0x02));
    pubA.conn.write(bytes(0x30, 0x03));
    c.write(bytes(0x40, 0x04));
  });
  const order: string[] = [];
  for (const [name, p] of [
    ['subA', subA],
    ['subB', subB],
    ['pubA', pubA],
    ['pubB', pubB],
  ] as const) {
    const push = p.writes.push.bind(p.writes);
    p.writes.push = (...b: Buffer[]) => {
      order.push(name);
      return push(...b);
    };
  }
  try {
    pubA.conn.onData(bytes(0xc0, 0x00));
    pubB.conn.onData(bytes(0xc0, 0x00));
    assert.deepEqual(order, ['subA', 'subB'], 'the messages to the two subscribers went at once');
    await nextTurn();
    assert.deepEqual(order, ['subA', 'subB', 'pubA', 'pubB'], "then pubA (its ack with the message routed to it behind it), then pubB's ack");
    assert.deepEqual([...pubA.writes], [bytes(0x40, 0x02, 0x30, 0x03)], 'pubA: its ack, then the message routed to it, in write order');
    assert.deepEqual([...pubB.writes], [bytes(0x40, 0x04)]);
    // and the next phase works the same (the lists were emptied, nothing is left scheduled)
    pubB.conn.onData(bytes(0xc0, 0x00));
    assert.deepEqual(order.slice(4), ['subB', 'pubA']);
    await nextTurn();
    assert.deepEqual(order.slice(4), ['subB', 'pubA', 'pubB']);
  } finally {
    for (const p of [subA, subB, pubA, pubB]) p.close();
  }
});

test('at 64 KiB queued the bytes go at once, in order; a peer that does not read shows as backlog', async () => {
  const p = await pair();
  try {
    p.client.pause();
    const parts = Array.from({ length: 40 }, (_, i) => Buffer.alloc(4096, i));
    for (const b of parts) p.conn.write(b);
    assert.equal(p.writes.length, 2, 'two writes of 64 KiB without waiting for the end of the phase');
    await nextTurn();
    assert.equal(p.writes.length, 3, 'the rest at the end of the phase');
    assert.deepEqual(Buffer.concat(p.writes), Buffer.concat(parts));
    // more than the kernel takes (25 MiB) stays in the socket, visible as backlog
    for (let i = 0; i < 200; i++) p.conn.write(Buffer.alloc(128 * 1024, 7));
    await nextTurn();
    assert.ok(p.conn.backlog > 0, `the unread bytes show as backlog: ${p.conn.backlog}`);
    p.client.resume();
    await waitForBytes(p, 40 * 4096 + 200 * 128 * 1024);
    assert.deepEqual(p.received().subarray(0, 40 * 4096), Buffer.concat(parts));
  } finally {
    p.close();
  }
});

test('large chunks (a payload shared by many subscribers) go to the socket as they are, small runs around them joined', async () => {
  const p = await pair();
  try {
    const payload = Buffer.alloc(16 * 1024, 9);
    const ack = bytes(0x40, 2, 0, 7);
    const head1 = bytes(0x32, 0x89, 0x80, 0x01, 0, 1, 0x74, 0, 1);
    const head2 = bytes(0x32, 0x89, 0x80, 0x01, 0, 1, 0x74, 0, 2);
    for (const b of [ack, head1, payload, head2, payload]) p.conn.write(b);
    await nextTurn();
    assert.equal(p.originals.length, 4, 'one corked batch: ack + header joined, payload, header, payload');
    assert.deepEqual(p.originals[0], Buffer.concat([ack, head1]));
    assert.equal(p.originals[1], payload, 'the payload Buffer itself, not a copy');
    assert.equal(p.originals[3], payload);
    const all = Buffer.concat([ack, head1, payload, head2, payload]);
    await waitForBytes(p, all.length);
    assert.deepEqual(p.received(), all);
  } finally {
    p.close();
  }
});

test('close sends what was queued, then ends the socket', async () => {
  const p = await pair();
  try {
    p.conn.write(bytes(0xe0, 0x00));
    p.conn.close('normal');
    assert.deepEqual(p.writes, [bytes(0xe0, 0x00)]);
    await new Promise<void>((resolve) => p.client.once('end', resolve));
    assert.deepEqual(p.received(), bytes(0xe0, 0x00));
    await nextTurn();
    assert.equal(p.writes.length, 1, 'nothing more at the end of the phase');
  } finally {
    p.close();
  }
});

async function waitForBytes(p: { received: () => Buffer }, n: number): Promise<void> {
  for (let i = 0; i < 500 && p.received().length < n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(p.received().length, n);
}

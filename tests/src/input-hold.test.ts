/**
 * Input backpressure: packets that arrive while an authenticator answers the CONNECT wait in
 * the client's socket (reads paused), not in a growing array in the node; once the answer
 * comes, every one of them is handled, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startBroker, sleep, waitFor } from './harness.js';

const MB = 1024 * 1024;

/** QoS 1 PUBLISH, MQTT 3.1.1, to `t/x` with packet id `id` and a 1 KB payload. */
function publish(id: number): Buffer {
  const body = Buffer.alloc(2 + 3 + 2 + 1024, 0x61);
  body.writeUInt16BE(3, 0);
  body.write('t/x', 2);
  body.writeUInt16BE(id, 5);
  // remaining length 1031 in two bytes
  return Buffer.concat([Buffer.from([0x32, (body.length & 0x7f) | 0x80, body.length >> 7]), body]);
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 2, 0, 60, 0, id.length]), id]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

test('packets sent while the authenticator answers wait in the socket, bounded, then all are handled in order', { timeout: 60_000 }, async (t) => {
  let answer!: () => void;
  const answered = new Promise<void>((r) => (answer = r));
  let asked = false;
  const tb = await startBroker({
    hooks: {
      authenticate: async () => {
        asked = true;
        await answered;
        return { ok: true };
      },
    },
  });
  const sock = net.connect({ host: '127.0.0.1', port: tb.port });
  try {
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    // PUBACK ids, in the order they come back (after the CONNACK's 4 bytes)
    const acks: number[] = [];
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        if (buf[0] === 0x40) acks.push(buf.readUInt16BE(2));
        buf = buf.subarray(4);
      }
    });
    sock.write(connectPacket('held'));
    await waitFor(() => asked, 'the authenticator is asked');
    // 8 MB of QoS 1 PUBLISH while the CONNECT is not answered yet
    const N = 8000;
    let written = 0;
    const writing = (async () => {
      for (let id = 1; id <= N; id++) {
        written++;
        if (!sock.write(publish(id))) await new Promise((r) => sock.once('drain', r));
      }
    })();
    await sleep(1500);
    const readWhileHeld = tb.broker.stats.bytesIn;
    t.diagnostic(`while the authenticator was answering: ${written} of ${N} packets handed to the client's socket, ${(readWhileHeld / MB).toFixed(2)} MB read by the node`);
    assert.ok(written < N, 'the client could not write everything: the node stopped reading');
    assert.ok(readWhileHeld < 1 * MB, `the node read ${readWhileHeld} bytes while holding (bounded by one read, not by what the client sent)`);
    answer();
    await writing;
    await waitFor(() => acks.length >= N, `all ${N} PUBACKs (have ${acks.length})`, 30_000);
    assert.deepEqual(
      acks,
      Array.from({ length: N }, (_, i) => i + 1),
      'every held PUBLISH was handled, in order',
    );
  } finally {
    answer();
    sock.destroy();
    await tb.close();
  }
});

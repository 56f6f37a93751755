#!/usr/bin/env node
// node scripts/bench-topic-alias.mjs [messages] (after npx tsc -b): bytes on the wire per
// delivered PUBLISH with and without server-to-client topic aliases (docs/performance.md §
// Bytes and copies per delivery). One in-process broker with its defaults, a publisher and
// two MQTT 5 subscribers on raw sockets: one announcing Topic Alias Maximum 64 (aliases used),
// one announcing none (full topics). Counts the bytes each subscriber's socket receives after
// SUBACK, for several topic lengths and numbers of distinct topics (round robin, so more
// topics than aliases is the LRU's worst case). Byte counts, not timings: the machine's load
// does not change them.
import net from 'node:net';
import mqtt from 'mqtt-packet';
import pino from 'pino';
import { createBroker } from '../packages/broker/dist/index.js';

const N = Number(process.argv[2] ?? 2000);
const PAYLOAD = Buffer.alloc(64, 0x61);

function frames(onPacket) {
  const parser = mqtt.parser({ protocolVersion: 5 });
  parser.on('packet', onPacket);
  return parser;
}

/** A raw client: resolves once CONNACK (and SUBACK when `filter`) have arrived; counts bytes after that. */
function client(port, clientId, version, properties, filter) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const c = { socket, bytes: 0, publishes: 0, counting: false };
    const parser = frames((p) => {
      if (p.cmd === 'connack') {
        if (!filter) return resolve(c);
        socket.write(mqtt.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] }, { protocolVersion: version }));
      } else if (p.cmd === 'suback') {
        c.counting = true;
        resolve(c);
      } else if (p.cmd === 'publish') c.publishes++;
    });
    parser.settings = { protocolVersion: version };
    socket.on('data', (chunk) => {
      if (c.counting) c.bytes += chunk.length;
      parser.parse(chunk);
    });
    socket.on('error', reject);
    socket.write(
      mqtt.generate(
        { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 0, ...(properties ? { properties } : {}) },
        { protocolVersion: version },
      ),
    );
  });
}

async function until(cond, ms = 30_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const port = await new Promise((resolve) => {
  const srv = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address();
    srv.close(() => resolve(port));
  });
});
const broker = await createBroker({
  nodeName: 'alias-bench@127.0.0.1',
  logger: pino({ level: 'silent' }),
  listeners: [{ type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port }],
});
const rows = [];
try {
  let run = 0;
  for (const topicLen of [16, 48, 128])
    for (const distinct of [1, 10, 100]) {
      run++;
      const prefix = `r${run}/`;
      const topics = Array.from({ length: distinct }, (_, i) => (prefix + `t${i}/`).padEnd(topicLen, 'x'));
      const withAlias = await client(port, `alias-${run}`, 5, { topicAliasMaximum: 64 }, `${prefix}#`);
      const plain = await client(port, `plain-${run}`, 5, undefined, `${prefix}#`);
      const pub = await client(port, `pub-${run}`, 4, undefined, undefined);
      for (let i = 0; i < N; i++) {
        pub.socket.write(mqtt.generate({ cmd: 'publish', topic: topics[i % distinct], payload: PAYLOAD, qos: 0, retain: false, dup: false }, { protocolVersion: 4 }));
        if (i % 200 === 199) await until(() => plain.publishes >= i + 1 && withAlias.publishes >= i + 1);
      }
      await until(() => plain.publishes >= N && withAlias.publishes >= N);
      rows.push({
        topicBytes: topicLen,
        distinctTopics: distinct,
        payloadBytes: PAYLOAD.length,
        bytesPerMsgPlain: +(plain.bytes / N).toFixed(2),
        bytesPerMsgAliases: +(withAlias.bytes / N).toFixed(2),
        saved: `${(100 * (1 - withAlias.bytes / plain.bytes)).toFixed(1)} %`,
      });
      for (const c of [withAlias, plain, pub]) c.socket.destroy();
    }
} finally {
  await broker.close();
}
console.table(rows);
console.log(JSON.stringify({ messages: N, rows }));

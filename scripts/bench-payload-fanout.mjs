#!/usr/bin/env node
// node scripts/bench-payload-fanout.mjs [payloadBytes] [subscribers] (after npx tsc -b): what a
// QoS 1 message to many subscribers allocates per delivery, whole packet per subscriber (the
// encoding before the shared payload; still used below SHARED_PAYLOAD_MIN) against a header
// per subscriber beside the one shared payload Buffer (docs/performance.md § Bytes and copies
// per delivery). One thread, no sockets: the encoder as sendPublish calls it, in blocks of one
// message × `subscribers` deliveries, alternating the two ways; bytes allocated are counted
// exactly (the lengths of the Buffers made), time is the process's CPU time (another process
// taking the CPU does not count), medians over the blocks.
import { encodePublish, encodePublishHead } from '../packages/mqtt/dist/index.js';

const SIZE = Number(process.argv[2] ?? 65_536);
const SUBS = Number(process.argv[3] ?? 1000);
const BLOCKS = 40;
const payload = Buffer.alloc(SIZE, 7);
let sink = 0;

function block(apart) {
  // a fresh message per block, as in the broker: its variant cache starts empty
  const msg = { topic: 'bench/fanout/0', payload, properties: undefined, expiresAt: 0 };
  let allocated = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < SUBS; i++) {
    const d = { msg, qos: 1, retain: false, subIds: undefined };
    const pid = (i % 65535) + 1;
    const buf = apart ? encodePublishHead(d, pid, false, false, 0) : encodePublish(d, pid, false, false, 0);
    allocated += buf.length;
    sink += buf[buf.length - 1];
  }
  const u = process.cpuUsage(t0);
  return { allocated, nsPerDelivery: ((u.user + u.system) * 1000) / SUBS };
}

for (let w = 0; w < 5; w++) {
  block(false);
  block(true);
}
const whole = [];
const apart = [];
for (let r = 0; r < BLOCKS; r++) {
  if (r % 2) {
    apart.push(block(true));
    whole.push(block(false));
  } else {
    whole.push(block(false));
    apart.push(block(true));
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const summary = (rs) => ({
  bytesAllocatedPerMessage: rs[0].allocated,
  bytesPerDelivery: +(rs[0].allocated / SUBS).toFixed(1),
  nsPerDelivery: +med(rs.map((r) => r.nsPerDelivery)).toFixed(0),
});
console.log(JSON.stringify({ payloadBytes: SIZE, subscribers: SUBS, blocks: BLOCKS, wholePacketPerSubscriber: summary(whole), headerPlusSharedPayload: summary(apart), sink }));

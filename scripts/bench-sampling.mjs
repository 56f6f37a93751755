#!/usr/bin/env node
// node scripts/bench-sampling.mjs (after npm run build): what delivery-latency sampling
// (vireo_delivery_latency_seconds, packages/broker/src/node/delivery-latency.ts) adds per message.
// One thread, no sockets: the broker's own code for a message entering the node and one
// delivery (messageFromPublish, DeliveryLatency.enter, encodePublish, the delivered check),
// in blocks of 200 000 messages alternating sampling off / 1 in 16; CPU time of the process
// (not wall time: another process taking the CPU does not count), medians over 30 blocks
// each. See docs/performance.md § Metrics on vs off.
import { messageFromPublish } from '../packages/broker/dist/message.js';
import { encodePublish } from '../packages/mqtt/dist/index.js';
import { DeliveryLatency } from '../packages/broker/dist/node/delivery-latency.js';

const N = 200_000;
const payload = Buffer.alloc(64, 1);
const lat = new DeliveryLatency();
let sink = 0;
function block(every) {
  lat.sample(every);
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const msg = messageFromPublish({ cmd: 'publish', topic: 'bench/7', payload, qos: 0, retain: false, dup: false }, 'bench/7', 'pub-7', 1_700_000_000_000 + i);
    lat.enter(msg);
    const d = { msg, qos: 0, retain: false, subIds: undefined, share: undefined };
    const buf = encodePublish(d, 0, false, false, 0);
    sink += buf.length + d.msg.topic.length + d.msg.qos;
    if (d.msg.sampledAt !== undefined) lat.delivered(d.msg.sampledAt);
  }
  const u = process.cpuUsage(t0);
  return ((u.user + u.system) * 1000) / N; // ns per message
}
for (let w = 0; w < 5; w++) { block(0); block(16); }
const off = [], on = [];
for (let r = 0; r < 30; r++) { if (r % 2) { on.push(block(16)); off.push(block(0)); } else { off.push(block(0)); on.push(block(16)); } }
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(JSON.stringify({ nsPerMsgOff: +med(off).toFixed(1), nsPerMsgOn: +med(on).toFixed(1), diffNs: +(med(on) - med(off)).toFixed(1), minOff: +Math.min(...off).toFixed(1), minOn: +Math.min(...on).toFixed(1), sampled: lat.histogram.view().count, sink }));

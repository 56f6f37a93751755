// node scripts/node-floor-relay.mjs PORT — not a broker: the least a Node.js process must do to
// pass the `pairs` benchmark (MQTT 3.1.1, exact-topic subscriptions, QoS 0/1), with Node's own
// socket streams and nothing else — no sessions, no inflight window, no retries, no checks.
// `npm run bench -- --brokers vireo,node-floor,mosquitto --only pairs-fixed` puts it beside the
// brokers: the distance from it to Vireo is what Vireo's own code costs, the distance from it
// to Mosquitto what the runtime costs (docs/performance.md, "The floor of a Node.js broker").
import net from 'node:net'

const port = Number(process.argv[2])
if (!(port > 0)) {
  process.stderr.write('usage: node scripts/node-floor-relay.mjs PORT\n')
  process.exit(2)
}
/** topic → subscriber sockets */
const subs = new Map()
let nextPid = 1

function varint (buf, o) {
  let mult = 1
  let value = 0
  let b
  do {
    if (o >= buf.length) return null
    b = buf[o++]
    value += (b & 127) * mult
    mult *= 128
  } while (b & 128)
  return [value, o]
}

function onPacket (sock, buf, start, body, end) {
  const type = buf[start] >> 4
  if (type === 1) sock.write(Buffer.from([0x20, 2, 0, 0])) // CONNECT → CONNACK accepted
  else if (type === 8) { // SUBSCRIBE: one exact filter
    const id = buf.readUInt16BE(body)
    const len = buf.readUInt16BE(body + 2)
    const topic = buf.toString('utf8', body + 4, body + 4 + len)
    const list = subs.get(topic) ?? []
    list.push(sock)
    subs.set(topic, list)
    sock.on('close', () => list.splice(list.indexOf(sock), 1))
    sock.write(Buffer.from([0x90, 3, id >> 8, id & 255, buf[body + 4 + len] & 3]))
  } else if (type === 3) { // PUBLISH: to each subscriber of the topic, then PUBACK for QoS 1
    const qos = (buf[start] >> 1) & 3
    const len = buf.readUInt16BE(body)
    const topic = buf.toString('utf8', body + 2, body + 2 + len)
    for (const sub of subs.get(topic) ?? []) {
      const copy = Buffer.from(buf.subarray(start, end))
      if (qos > 0) copy.writeUInt16BE((nextPid = (nextPid % 65535) + 1), body - start + 2 + len)
      sub.write(copy)
    }
    if (qos === 1) {
      const id = buf.readUInt16BE(body + 2 + len)
      sock.write(Buffer.from([0x40, 2, id >> 8, id & 255]))
    }
  } else if (type === 12) sock.write(Buffer.from([0xd0, 0]))
  else if (type === 14) sock.end()
  // PUBACK from a subscriber and anything else: ignored
}

net.createServer({ noDelay: true }, (sock) => {
  let rest = null
  sock.on('error', () => {})
  sock.on('data', (chunk) => {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk
    rest = null
    let o = 0
    while (o < buf.length) {
      const rl = varint(buf, o + 1)
      if (!rl || rl[1] + rl[0] > buf.length) break
      onPacket(sock, buf, o, rl[1], rl[1] + rl[0])
      o = rl[1] + rl[0]
    }
    if (o < buf.length) rest = Buffer.from(buf.subarray(o))
  })
}).listen(port, '127.0.0.1')

// MQTT 3.1.1 / 5.0 packets for the load generator: the few a client sends, encoded by hand
// into Buffers, and a streaming decoder for what a broker sends back.
//
// Deliberately independent of packages/mqtt: a generator that shared the broker's codec would
// hide a bug in it. Only what a benchmarking client needs is here (no will, no auth exchange).

export const CONNECT = 1
export const CONNACK = 2
export const PUBLISH = 3
export const PUBACK = 4
export const PUBREC = 5
export const PUBREL = 6
export const PUBCOMP = 7
export const SUBSCRIBE = 8
export const SUBACK = 9
export const PINGREQ = 12
export const PINGRESP = 13
export const DISCONNECT = 14

// bytes a Remaining Length takes
export function varintSize (n) {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4
}

export function writeVarint (buf, off, n) {
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    buf[off++] = b
  } while (n > 0)
  return off
}

function header (type, flags, remaining) {
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining)
  buf[0] = (type << 4) | flags
  return { buf, off: writeVarint(buf, 1, remaining) }
}

function writeString (buf, off, b) {
  buf.writeUInt16BE(b.length, off)
  b.copy(buf, off + 2)
  return off + 2 + b.length
}

/**
 * @param {{clientId: string, version: 4|5, clean: boolean, keepalive: number,
 *   username?: string|null, password?: string|null, sessionExpiry?: number}} o
 */
export function encodeConnect (o) {
  const id = Buffer.from(o.clientId)
  const user = o.username != null ? Buffer.from(o.username) : null
  const pass = o.password != null ? Buffer.from(o.password) : null
  // v5 properties: Session Expiry Interval (0x11) only when the session should outlive the connection
  const props = o.version === 5 && !o.clean && o.sessionExpiry ? 5 : 0
  let len = 10 + (o.version === 5 ? varintSize(props) + props : 0) + 2 + id.length
  if (user) len += 2 + user.length
  if (pass) len += 2 + pass.length
  const { buf, off: o0 } = header(CONNECT, 0, len)
  let off = writeString(buf, o0, Buffer.from('MQTT'))
  buf[off++] = o.version
  buf[off++] = (user ? 0x80 : 0) | (pass ? 0x40 : 0) | (o.clean ? 0x02 : 0)
  buf.writeUInt16BE(o.keepalive, off)
  off += 2
  if (o.version === 5) {
    off = writeVarint(buf, off, props)
    if (props) { buf[off++] = 0x11; buf.writeUInt32BE(o.sessionExpiry, off); off += 4 }
  }
  off = writeString(buf, off, id)
  if (user) off = writeString(buf, off, user)
  if (pass) writeString(buf, off, pass)
  return buf
}

export function encodeSubscribe (packetId, filter, qos, version) {
  const f = Buffer.from(filter)
  const len = 2 + (version === 5 ? 1 : 0) + 2 + f.length + 1
  const { buf, off: o0 } = header(SUBSCRIBE, 0x02, len)
  let off = o0
  buf.writeUInt16BE(packetId, off)
  off += 2
  if (version === 5) buf[off++] = 0
  off = writeString(buf, off, f)
  buf[off] = qos
  return buf
}

/** PUBACK, PUBREC, PUBREL or PUBCOMP: 4 bytes (v5 lets the reason code and properties be omitted on success) */
export function writeAck (buf, off, type, packetId) {
  buf[off] = (type << 4) | (type === PUBREL ? 0x02 : 0)
  buf[off + 1] = 2
  buf[off + 2] = packetId >> 8
  buf[off + 3] = packetId & 0xff
  return off + 4
}

export const PINGREQ_BYTES = Buffer.from([PINGREQ << 4, 0])
export const DISCONNECT_BYTES = Buffer.from([DISCONNECT << 4, 0])

/**
 * A PUBLISH packet built once per publisher; per message only the packet id and the 16-byte
 * payload header change. Payload header: send time (float64 ms, monotonic, the same clock in
 * every process of the host), publisher index (uint32), sequence number (uint32).
 */
export class PublishTemplate {
  constructor ({ topic, qos, retain, size, version, pubIndex }) {
    const t = Buffer.from(topic)
    const remaining = 2 + t.length + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + size
    const { buf, off: o0 } = header(PUBLISH, (qos << 1) | (retain ? 1 : 0), remaining)
    let off = writeString(buf, o0, t)
    this.pidOff = qos > 0 ? off : -1
    if (qos > 0) off += 2
    if (version === 5) buf[off++] = 0
    this.payloadOff = off
    buf.fill(0x61, off) // the rest of the payload: 'a's
    buf.writeUInt32BE(pubIndex, off + 8)
    this.buf = buf
  }

  get length () { return this.buf.length }

  /** writes one message at target[off]; returns the offset after it */
  fill (target, off, packetId, seq, sentMs) {
    this.buf.copy(target, off)
    if (this.pidOff >= 0) { target[off + this.pidOff] = packetId >> 8; target[off + this.pidOff + 1] = packetId & 0xff }
    target.writeDoubleBE(sentMs, off + this.payloadOff)
    target.writeUInt32BE(seq, off + this.payloadOff + 12)
    return off + this.buf.length
  }
}

/**
 * Streaming decoder: feed() it whatever TCP delivers; it calls onPacket(type, flags, buf, start, end)
 * for every whole packet, the body being buf[start, end), valid only during the call (the
 * read buffer is reused). Frames split across reads are kept.
 */
export class Decoder {
  constructor (onPacket) {
    this.onPacket = onPacket
    this.rest = null
  }

  feed (chunk) {
    let buf = chunk
    if (this.rest) { buf = Buffer.concat([this.rest, chunk]); this.rest = null }
    let off = 0
    const n = buf.length
    while (off < n) {
      if (n - off < 2) break
      let len = 0
      let mul = 1
      let p = off + 1
      let complete = false
      for (let i = 0; i < 4; i++) {
        if (p >= n) break
        const b = buf[p++]
        len += (b & 0x7f) * mul
        if ((b & 0x80) === 0) { complete = true; break }
        mul *= 128
        if (i === 3) throw new Error('malformed Remaining Length from the broker')
      }
      if (!complete || p + len > n) break
      const h = buf[off]
      this.onPacket(h >> 4, h & 0x0f, buf, p, p + len)
      off = p + len
    }
    // a copy: the read buffer is reused for the next read
    if (off < n) this.rest = Buffer.from(buf.subarray(off))
  }
}

export function readVarint (buf, off) {
  let v = 0
  let mul = 1
  for (let i = 0; i < 4; i++) {
    const b = buf[off++]
    v += (b & 0x7f) * mul
    if ((b & 0x80) === 0) break
    mul *= 128
  }
  return { value: v, next: off }
}

/** v5 CONNACK properties the generator honours: Receive Maximum (0x21). Returns null if absent. */
export function connackReceiveMaximum (buf, start, end) {
  if (end - start < 3) return null
  const { value: plen, next } = readVarint(buf, start + 2)
  const stop = Math.min(end, next + plen)
  let o = next
  while (o < stop) {
    const id = buf[o++]
    if (id === 0x21) return buf.readUInt16BE(o)
    // skip the property by its type
    if ([0x01, 0x24, 0x25, 0x28, 0x29, 0x2a, 0x17, 0x19].includes(id)) o += 1
    else if ([0x13, 0x21, 0x22, 0x23].includes(id)) o += 2
    else if ([0x02, 0x11, 0x18, 0x27].includes(id)) o += 4
    else if (id === 0x0b) o = readVarint(buf, o).next
    else if (id === 0x26) { o += 2 + buf.readUInt16BE(o); o += 2 + buf.readUInt16BE(o) } else o += 2 + buf.readUInt16BE(o) // strings and binary data
  }
  return null
}

/** offset of the payload inside a PUBLISH body */
export function publishPayloadOffset (flags, version, buf, start) {
  let o = start + 2 + buf.readUInt16BE(start)
  if (flags & 0x06) o += 2
  if (version === 5) { const v = readVarint(buf, o); o = v.next + v.value }
  return o
}

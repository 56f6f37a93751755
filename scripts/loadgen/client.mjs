// One MQTT connection of the load generator over node:net: handshake, subscribe, and the
// acknowledgements of the QoS 1/2 flows. The acks a read produces go out in one write.

import net from 'node:net'
import {
  Decoder, encodeConnect, encodeSubscribe, writeAck, connackReceiveMaximum,
  CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, DISCONNECT,
  PINGREQ_BYTES, DISCONNECT_BYTES
} from './codec.mjs'

// every socket of the process reads into this one buffer (node's `onread`): no allocation per
// read, and up to 256 KiB per syscall; the decoder copies only a frame split across reads
const READ = Buffer.allocUnsafe(256 * 1024)

export class Client {
  /**
   * @param {object} cfg  host, version, clean, keepalive, username, password, sessionExpiry, connectTimeout
   * @param {{port: number, clientId: string, localAddress?: string}} where
   * @param {{onPublish?: Function, onAck?: Function, onClose?: Function, onRead?: Function}} hooks
   */
  constructor (cfg, where, hooks = {}) {
    this.cfg = cfg
    this.where = where
    this.hooks = hooks
    this.socket = null
    this.receiveMaximum = 65535
    this.closing = false
    this.closed = false
    this.waiting = null // { type, resolve, reject } while a CONNACK or SUBACK is awaited
    this.acks = null // acks gathered during one read
    this.ackOff = 0
    this.pingTimer = null
    this.decoder = new Decoder((type, flags, buf, start, end) => this.packet(type, flags, buf, start, end))
  }

  connect () {
    const { cfg, where } = this
    return new Promise((resolve, reject) => {
      const t0 = performance.now()
      const timer = setTimeout(() => { fail(new Error('CONNACK timeout')); this.socket.destroy() }, cfg.connectTimeout * 1000)
      const fail = (err) => { clearTimeout(timer); this.waiting = null; reject(err) }
      const s = net.connect({ host: cfg.host, port: where.port, localAddress: where.localAddress, noDelay: true, onread: { buffer: READ, callback: (n) => { this.data(READ.subarray(0, n)) } } })
      this.socket = s
      s.on('error', (err) => {
        if (this.waiting) fail(new Error(err.code || err.message))
        this.error = err.code || err.message
      })
      s.on('close', () => {
        this.closed = true
        clearInterval(this.pingTimer)
        if (this.waiting) fail(new Error(this.error || 'connection closed before CONNACK'))
        if (this.hooks.onClose) this.hooks.onClose(this, this.closing)
      })
      s.once('connect', () => {
        this.waiting = {
          type: CONNACK,
          resolve: (code) => {
            clearTimeout(timer)
            if (code !== 0) { reject(new Error(`CONNACK refused: reason 0x${code.toString(16)}`)); s.destroy(); return }
            if (cfg.keepalive > 0) this.pingTimer = setInterval(() => { if (!this.closed) s.write(PINGREQ_BYTES) }, cfg.keepalive * 500)
            resolve(performance.now() - t0)
          },
          reject: fail
        }
        s.write(encodeConnect({ ...cfg, clientId: where.clientId }))
      })
    })
  }

  subscribe (filter, qos) {
    return new Promise((resolve, reject) => {
      this.waiting = {
        type: SUBACK,
        resolve: (code) => (code >= 0x80 ? reject(new Error(`SUBACK refused ${filter}: reason 0x${code.toString(16)}`)) : resolve(code)),
        reject
      }
      this.socket.write(encodeSubscribe(1, filter, qos, this.cfg.version))
    })
  }

  data (chunk) {
    if (this.hooks.onRead) this.hooks.onRead()
    this.decoder.feed(chunk)
    if (this.ackOff > 0) {
      this.socket.write(this.acks.subarray(0, this.ackOff))
      this.acks = null
      this.ackOff = 0
    }
  }

  ack (type, pid) {
    if (!this.acks) { this.acks = Buffer.allocUnsafe(4096); this.ackOff = 0 }
    if (this.ackOff + 4 > this.acks.length) {
      const b = Buffer.allocUnsafe(this.acks.length * 2)
      this.acks.copy(b, 0, 0, this.ackOff)
      this.acks = b
    }
    this.ackOff = writeAck(this.acks, this.ackOff, type, pid)
  }

  packet (type, flags, buf, start, end) {
    switch (type) {
      case PUBLISH: {
        const qos = (flags >> 1) & 3
        if (this.hooks.onPublish) this.hooks.onPublish(flags, buf, start, end)
        if (qos > 0) {
          const pid = buf.readUInt16BE(start + 2 + buf.readUInt16BE(start))
          this.ack(qos === 1 ? PUBACK : PUBREC, pid)
        }
        return
      }
      case PUBACK: case PUBCOMP: {
        // v5: a reason code >= 0x80 means the broker did not accept the message
        const rc = end - start > 2 ? buf[start + 2] : 0
        if (this.hooks.onAck) this.hooks.onAck(buf.readUInt16BE(start), rc)
        return
      }
      case PUBREC: {
        const rc = end - start > 2 ? buf[start + 2] : 0
        if (rc >= 0x80) { if (this.hooks.onAck) this.hooks.onAck(buf.readUInt16BE(start), rc); return }
        this.ack(PUBREL, buf.readUInt16BE(start))
        return
      }
      case PUBREL:
        this.ack(PUBCOMP, buf.readUInt16BE(start))
        return
      case CONNACK: {
        const code = buf[start + 1]
        if (this.cfg.version === 5 && code === 0) {
          const rm = connackReceiveMaximum(buf, start, end)
          if (rm) this.receiveMaximum = rm
        }
        const w = this.waiting
        this.waiting = null
        if (w && w.type === CONNACK) w.resolve(code)
        return
      }
      case SUBACK: {
        const w = this.waiting
        this.waiting = null
        // the reason code is the last byte (v5 has properties before it)
        if (w && w.type === SUBACK) w.resolve(buf[end - 1])
        return
      }
      case DISCONNECT:
        this.serverDisconnect = end > start ? buf[start] : 0
    }
  }

  /** a clean DISCONNECT, then the socket is ended */
  disconnect () {
    if (this.closed) return Promise.resolve()
    this.closing = true
    clearInterval(this.pingTimer)
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.socket.destroy(); resolve() }, 3000)
      this.socket.once('close', () => { clearTimeout(t); resolve() })
      this.socket.end(DISCONNECT_BYTES)
    })
  }
}

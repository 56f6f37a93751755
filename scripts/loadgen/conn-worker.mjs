// The conn scenario in one worker process: open its share of the connections (paced, or as
// fast as the handshakes in flight allow), hold them, close them cleanly.

import { Client } from './client.mjs'
import { Hist } from './hist.mjs'
import { localAddress, nowMs, withConcurrency } from './plan.mjs'

export class ConnWorker {
  constructor (cfg, w, send) {
    this.cfg = cfg
    this.w = w
    this.send = send
    this.clients = []
    this.hist = new Hist()
    this.ok = 0
    this.fail = 0
    this.errors = {}
    this.unexpectedClose = 0
  }

  async setup () {}

  start (startAt) {
    setTimeout(() => { this.run().catch((err) => this.send({ t: 'error', message: err.message })) }, Math.max(0, startAt - nowMs()))
  }

  async run () {
    const { cfg, w } = this
    const W = cfg.workers
    const mine = []
    for (let k = w; k < cfg.count; k += W) mine.push(k)
    const t0 = nowMs()
    const cpu0 = process.cpuUsage()
    const rate = cfg.rate > 0 ? cfg.rate / W : 0
    this.progress = setInterval(() => this.send({ t: 'progress', ok: this.ok, fail: this.fail }), 1000)
    let firstOk = Infinity
    let lastOk = 0
    await withConcurrency(mine, Math.max(1, Math.floor(cfg.concurrency / W)), async (k, n) => {
      if (rate > 0) {
        const at = t0 + (n * 1000) / rate
        const wait = at - nowMs()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      }
      const c = new Client(cfg, { port: cfg.port, clientId: `lg${cfg.runId}c${k}`, localAddress: localAddress(cfg, k) }, {
        onClose: (cl, expected) => { if (!expected && cl.connected) this.unexpectedClose++ }
      })
      try {
        const ms = await c.connect()
        c.connected = true
        this.hist.recordMs(ms)
        this.ok++
        const t = nowMs()
        if (t < firstOk) firstOk = t
        if (t > lastOk) lastOk = t
        this.clients.push(c)
      } catch (err) {
        this.fail++
        this.errors[err.message] = (this.errors[err.message] || 0) + 1
        if (c.socket) c.socket.destroy()
      }
    })
    clearInterval(this.progress)
    const c = process.cpuUsage(cpu0)
    this.send({ t: 'connected', ok: this.ok, fail: this.fail, hist: this.hist.toJSON(), t0, tDone: nowMs(), firstOk, lastOk, cpuUs: c.user + c.system, errors: this.errors })
  }

  async finish () {
    const stillUp = this.clients.filter((c) => !c.closed).length
    await withConcurrency(this.clients, 500, (c) => c.disconnect())
    this.send({ t: 'result', stillUp, unexpectedClose: this.unexpectedClose, errors: this.errors })
  }

  async close () {}
}

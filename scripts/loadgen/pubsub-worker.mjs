// The pub/sub side of one worker process: its share of the publishers and subscribers
// (client i of each kind when i mod workers = this worker), the publish schedule, and the
// receive accounting (latency histograms, sequence tracking).

import { Client } from './client.mjs'
import { PublishTemplate, publishPayloadOffset } from './codec.mjs'
import { Hist } from './hist.mjs'
import { SeqTracker } from './tracker.mjs'
import { buildPlan, localAddress, nowMs, withConcurrency } from './plan.mjs'

const BATCH_BYTES = 16 * 1024 // an unlimited publisher writes up to this much per syscall
const STALL_MS = 2000 // a closed-loop window full for this long with no delivery is written off

export class PubSubWorker {
  constructor (cfg, w, send) {
    this.cfg = cfg
    this.w = w
    this.send = send // to the coordinator
    this.plan = buildPlan(cfg, cfg.runId)
    this.pubs = [] // local publisher states, and by index:
    this.pubByIndex = new Map()
    this.subs = []
    this.hist = new Hist()
    this.warmHist = new Hist()
    this.drainHist = new Hist()
    this.recvTotal = 0
    this.recvWindow = 0
    this.unexpectedClose = 0
    this.unexpectedAcks = 0
    this.rejected = 0
    this.errors = {}
    this.notes = new Set()
    this.running = false
    this.wakeList = []
    this.wakeScheduled = false
    // receive time: read once per socket read, not per message (a read carries many)
    this.now = 0
    this.onRead = () => { this.now = nowMs() }
    this.pubAt = [] // local publisher states by index
  }

  error (what) { this.errors[what] = (this.errors[what] || 0) + 1 }

  async setup () {
    const { cfg, plan, w } = this
    const W = cfg.workers
    const onClose = (c, expected) => { if (!expected) { this.unexpectedClose++; this.error(`closed by the broker${c.serverDisconnect ? ` (DISCONNECT 0x${c.serverDisconnect.toString(16)})` : ''}`) } }
    const mySubs = plan.subs.filter((s) => s.index % W === w)
    const myPubs = plan.pubs.filter((p) => p.index % W === w)
    // subscribers first, so nothing published is missed
    for (const s of mySubs) {
      const st = { index: s.index, hears: plan.hears[s.index], trk: [], client: null }
      st.client = new Client(cfg, { port: s.port, clientId: s.clientId, localAddress: localAddress(cfg, s.index + plan.pubs.length) }, { onPublish: (f, b, a, e) => this.onPublish(st, f, b, a, e), onClose, onRead: this.onRead })
      this.subs.push(st)
    }
    const limit = Math.max(1, Math.floor(cfg.concurrency / W))
    await withConcurrency(this.subs, limit, async (st) => {
      await st.client.connect()
      await st.client.subscribe(plan.subs[st.index].filter, cfg.subQos)
    })
    for (const p of myPubs) {
      const st = {
        index: p.index,
        tpl: new PublishTemplate({ topic: p.topic, qos: cfg.qos, retain: cfg.retain, size: cfg.size, version: cfg.version, pubIndex: p.index }),
        seq: 0,
        acked: 0,
        inflight: 0,
        pidSeq: cfg.qos > 0 ? new Int32Array(65536).fill(-1) : null,
        nextPid: 0,
        window: cfg.inflight,
        local: 0, // local subscribers that hear it: the end-to-end window counts their deliveries
        recvd: 0,
        // closed loop: deliveries written off after a stall (QoS 0 messages the broker dropped never arrive)
        writtenOff: 0,
        seenRecvd: 0,
        stallAt: 0,
        batch: 1,
        due0: 0,
        blocked: false,
        woken: false,
        client: null
      }
      st.client = new Client(cfg, { port: p.port, clientId: p.clientId, localAddress: localAddress(cfg, p.index) }, { onAck: (pid, rc) => this.onAck(st, pid, rc), onClose })
      this.pubs.push(st)
      this.pubByIndex.set(p.index, st)
      this.pubAt[p.index] = st
    }
    await withConcurrency(this.pubs, limit, async (st) => {
      await st.client.connect()
      st.window = Math.min(cfg.inflight, st.client.receiveMaximum)
      if (st.window < cfg.inflight) this.notes.add(`inflight capped at the broker's Receive Maximum ${st.window}`)
      st.client.socket.on('drain', () => { st.blocked = false; this.wake(st) })
    })
    for (const s of this.subs) for (const i of s.hears) { const p = this.pubByIndex.get(i); if (p) p.local++ }
  }

  start (startAt, drainDeadline) {
    const { cfg } = this
    this.startAt = startAt
    this.endAt = startAt + cfg.duration * 1000
    this.warmEnd = startAt + cfg.warmup * 1000
    this.drainDeadline = drainDeadline
    const period = cfg.rate > 0 ? 1000 / cfg.rate : 0
    // publishers offset across one period so that they do not send in lockstep
    for (const p of this.pubs) p.due0 = startAt + (period * p.index) / Math.max(1, cfg.pubs)
    const begin = () => {
      this.running = true
      this.cpu0 = process.cpuUsage()
      if (cfg.rate > 0) this.tick()
      else {
        for (const p of this.pubs) { p.batch = Math.max(1, Math.floor(BATCH_BYTES / p.tpl.length)); p.stallAt = nowMs(); this.pump(p) }
        if (cfg.maxPending > 0) this.stallTimer = setInterval(() => this.checkStalls(), 250)
      }
      setTimeout(() => this.stopPublishing(), Math.max(0, this.endAt - nowMs()))
    }
    setTimeout(begin, Math.max(0, startAt - nowMs()))
    this.progress = setInterval(() => this.send({ t: 'progress', sent: this.sentTotal(), recv: this.recvTotal }), 1000)
  }

  sentTotal () { let n = 0; for (const p of this.pubs) n += p.seq; return n }

  canSend (p) {
    if (this.cfg.qos > 0 && p.inflight >= p.window) return false
    if (this.cfg.rate === 0 && this.cfg.maxPending > 0 && p.local > 0 && p.seq * p.local - p.recvd - p.writtenOff >= this.cfg.maxPending * p.local) return false
    return !p.blocked && !p.client.closed
  }

  // writes up to n messages of publisher p in one buffer; returns how many
  write (p, n) {
    const { cfg } = this
    const len = p.tpl.length
    const buf = Buffer.allocUnsafe(len * n)
    let off = 0
    let k = 0
    const t = nowMs()
    for (; k < n; k++) {
      if (cfg.qos > 0 && p.inflight >= p.window) break
      let pid = 0
      if (cfg.qos > 0) {
        do { pid = p.nextPid = p.nextPid === 65535 ? 1 : p.nextPid + 1 } while (p.pidSeq[pid] !== -1)
        p.pidSeq[pid] = p.seq
        p.inflight++
      }
      off = p.tpl.fill(buf, off, pid, p.seq++, t)
    }
    if (k === 0) return 0
    if (!p.client.socket.write(k === n ? buf : buf.subarray(0, off))) p.blocked = true
    return k
  }

  // unlimited rate: as much as the windows allow
  pump (p) {
    if (!this.running) return
    let budget = 1024 // then yield to the event loop
    while (budget > 0 && this.canSend(p)) {
      let n = p.batch
      if (this.cfg.rate === 0 && this.cfg.maxPending > 0 && p.local > 0) n = Math.min(n, Math.ceil((this.cfg.maxPending * p.local - (p.seq * p.local - p.recvd - p.writtenOff)) / p.local))
      const k = this.write(p, Math.max(1, Math.min(n, budget)))
      if (k === 0) break
      budget -= k
    }
    if (budget === 0) this.wake(p)
  }

  // fixed rate: the publishers share one period and are offset across it in index order, so
  // their due times come round in that order: a cursor visits only the publishers that are due
  // (O(messages), not O(publishers) per timer tick); each sends all it owes, within its window.
  tick () {
    if (!this.running) return
    const now = nowMs()
    const period = 1000 / this.cfg.rate
    const n = this.pubs.length
    if (n === 0) return
    const sched = this.sched || (this.sched = { c: 0, k: 0 })
    const dueAt = () => this.pubs[sched.c].due0 + sched.k * period
    // far behind (a stall): skip whole rounds, every publisher still sends what it owes
    if (now - dueAt() > period) sched.k = Math.max(sched.k, Math.floor((now - this.pubs[sched.c].due0) / period))
    for (let visited = 0; visited <= n && dueAt() <= now; visited++) {
      this.tickOne(this.pubs[sched.c], now)
      if (++sched.c === n) { sched.c = 0; sched.k++ }
    }
    setTimeout(() => this.tick(), Math.max(0, Math.min(1, dueAt() - nowMs())))
  }

  wake (p) {
    if (p.woken) return
    p.woken = true
    this.wakeList.push(p)
    if (this.wakeScheduled) return
    this.wakeScheduled = true
    setImmediate(() => {
      this.wakeScheduled = false
      const list = this.wakeList
      this.wakeList = []
      for (const q of list) {
        q.woken = false
        if (this.cfg.rate === 0) this.pump(q)
        else this.tickOne(q)
      }
    })
  }

  tickOne (p, now = nowMs()) {
    if (!this.running) return
    const due = Math.min(Math.floor(((now - p.due0) * this.cfg.rate) / 1000) + 1, Math.ceil(((this.endAt - p.due0) * this.cfg.rate) / 1000))
    if (due > p.seq && this.canSend(p)) this.write(p, Math.min(1024, due - p.seq))
  }

  onAck (p, pid, rc) {
    const seq = p.pidSeq ? p.pidSeq[pid] : -1
    if (seq === -1) { this.unexpectedAcks++; return }
    p.pidSeq[pid] = -1
    p.inflight--
    if (rc >= 0x80) { this.rejected++; this.error(`publish refused: reason 0x${rc.toString(16)}`); (p.refused ??= new Set()).add(seq) } else p.acked++
    if (this.running) this.wake(p)
    else if (p.inflight === 0 && this.ackWaiter) this.ackWaiter()
  }

  onPublish (s, flags, buf, start, end) {
    const now = this.now
    const po = publishPayloadOffset(flags, this.cfg.version, buf, start)
    if (end - po < 16) { this.error('foreign message (payload shorter than 16 bytes)'); return }
    const sentMs = buf.readDoubleBE(po)
    const pubIndex = buf.readUInt32BE(po + 8)
    const seq = buf.readUInt32BE(po + 12)
    const trk = s.trk[pubIndex] || (s.trk[pubIndex] = new SeqTracker())
    const fresh = trk.mark(seq)
    this.recvTotal++
    if (now <= this.endAt) {
      this.recvWindow++
      if (now < this.warmEnd) this.warmHist.recordMs(now - sentMs)
      else this.hist.recordMs(now - sentMs)
    } else this.drainHist.recordMs(now - sentMs)
    this.lastRecv = now
    const p = this.pubAt[pubIndex]
    if (p !== undefined) { p.recvd++; if (this.running && this.cfg.rate === 0 && this.cfg.maxPending > 0) this.wake(p) }
    if (fresh && this.waitingDeliveries && s.outstanding > 0 && --s.outstanding === 0 && --this.subsOutstanding === 0) this.waitingDeliveries()
  }

  // end of the window: no more publishing; wait (at most to the drain deadline) for the acks
  // a closed-loop publisher whose window stays full with no delivery for STALL_MS would wait
  // forever (QoS 0 messages the broker dropped): write the outstanding deliveries off, go on
  checkStalls () {
    const now = nowMs()
    for (const p of this.pubs) {
      if (p.local === 0) continue
      if (p.recvd !== p.seenRecvd || this.canSend(p)) { p.seenRecvd = p.recvd; p.stallAt = now; continue }
      if (now - p.stallAt >= STALL_MS) {
        p.writtenOff = p.seq * p.local - p.recvd
        p.stallAt = now
        this.notes.add('a publisher\'s end-to-end window stalled for 2 s (deliveries missing): it was reset')
        this.wake(p)
      }
    }
  }

  async stopPublishing () {
    this.running = false
    clearInterval(this.stallTimer)
    this.tEnd = nowMs()
    const c = process.cpuUsage(this.cpu0)
    this.cpuUs = c.user + c.system
    clearInterval(this.progress)
    const pending = () => this.pubs.reduce((n, p) => n + p.inflight, 0)
    if (this.cfg.qos > 0 && pending() > 0) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, this.drainDeadline - nowMs()))
        this.ackWaiter = () => { if (pending() === 0) { clearTimeout(timer); resolve() } }
      })
    }
    this.ackWaiter = null
    // per publisher: index, written, acknowledged, and the sequence numbers not acknowledged
    const pubs = this.pubs.map((p) => {
      const unacked = []
      if (p.pidSeq) for (let pid = 1; pid < 65536; pid++) if (p.pidSeq[pid] !== -1) unacked.push(p.pidSeq[pid])
      if (p.refused) unacked.push(...p.refused)
      return [p.index, p.seq, p.acked, unacked]
    })
    this.send({ t: 'pubdone', pubs, unacked: pending(), t0: this.startAt, tEnd: this.tEnd, cpuUs: this.cpuUs })
  }

  // the coordinator sent every publisher's count: wait for the deliveries, then count
  async expect (table) {
    const { cfg } = this
    const info = new Map(table.map(([i, sent, unacked]) => [i, { sent, unacked: new Set(unacked) }]))
    const atQos = Math.min(cfg.qos, cfg.subQos)
    const expectedOf = (s) => s.hears.reduce((n, i) => { const x = info.get(i); return n + (x ? x.sent - (cfg.qos > 0 ? x.unacked.size : 0) : 0) }, 0)
    this.subsOutstanding = 0
    for (const s of this.subs) {
      s.expected = expectedOf(s)
      const got = s.hears.reduce((n, i) => n + (s.trk[i] ? s.trk[i].unique : 0), 0)
      s.outstanding = Math.max(0, s.expected - got)
      if (s.outstanding > 0) this.subsOutstanding++
    }
    let drain = 'complete'
    if (this.subsOutstanding > 0) {
      drain = await new Promise((resolve) => {
        const deadline = setTimeout(() => finish('timeout'), Math.max(0, this.drainDeadline - nowMs()))
        const quiet = setInterval(() => { if (nowMs() - (this.lastRecv || 0) >= 1000) finish('quiet') }, 100)
        const finish = (why) => { clearTimeout(deadline); clearInterval(quiet); this.waitingDeliveries = null; resolve(why) }
        this.waitingDeliveries = () => finish('complete')
      })
    }
    const tDrainEnd = nowMs()
    let expected = 0
    let missing = 0
    let dups = 0
    let reordered = 0
    for (const s of this.subs) {
      expected += s.expected
      for (const i of s.hears) {
        const x = info.get(i)
        const trk = s.trk[i] || new SeqTracker()
        if (x) missing += trk.missing(x.sent, cfg.qos > 0 ? x.unacked : null)
      }
      for (const trk of s.trk) if (trk) { dups += trk.duplicates; reordered += trk.reordered }
    }
    this.send({
      t: 'result',
      drain,
      tDrainEnd,
      atQos,
      expected,
      missing,
      dups,
      reordered,
      recvTotal: this.recvTotal,
      recvWindow: this.recvWindow,
      hist: this.hist.toJSON(),
      warmHist: this.warmHist.toJSON(),
      drainHist: this.drainHist.toJSON(),
      cpuUs: this.cpuUs,
      unexpectedClose: this.unexpectedClose,
      unexpectedAcks: this.unexpectedAcks,
      rejected: this.rejected,
      errors: this.errors,
      notes: [...this.notes]
    })
  }

  async close () {
    await Promise.all([...this.pubs, ...this.subs].map((c) => c.client && c.client.socket ? c.client.disconnect() : null))
  }
}

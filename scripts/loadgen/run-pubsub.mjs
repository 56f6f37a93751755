// Coordinator of a pub/sub run (pairs, fanout, fanin): starts the workers together, samples the
// broker and the host over the window, then merges what the workers counted into one result.

import { Hist } from './hist.mjs'
import { buildPlan, nowMs } from './plan.mjs'
import { procSample, hostSample, cpuPct, hostPct, mib, cores } from './proc.mjs'
import { withTimeout } from './workers.mjs'

const round = (x, d = 0) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d)

export async function runPubSub (cfg, handles, log) {
  const plan = buildPlan(cfg, cfg.runId)
  log(`${cfg.scenario}: ${cfg.pubs} publisher(s), ${cfg.subs} subscriber(s), QoS ${cfg.qos}/${cfg.subQos}, ${cfg.size} B, ${cfg.rate > 0 ? `${cfg.rate} msg/s per publisher` : 'unlimited'}, ${cfg.duration} s${cfg.warmup ? ` (warm-up ${cfg.warmup} s)` : ''}, MQTT ${cfg.version === 5 ? '5.0' : '3.1.1'}, ${cfg.workers} worker(s)`)
  const tSetup = nowMs()
  for (const h of handles) h.send({ t: 'setup', cfg, w: h.w })
  await withTimeout(Promise.all(handles.map((h) => h.wait('ready'))), cfg.setupTimeout * 1000, 'connecting and subscribing')
  log(`${cfg.pubs + cfg.subs} clients connected and subscribed in ${round((nowMs() - tSetup) / 1000, 2)} s`)
  const fanTotal = plan.hears.reduce((n, h) => n + h.length, 0) // deliveries per round of one message from every publisher

  const startAt = nowMs() + 200
  const endAt = startAt + cfg.duration * 1000
  const drainDeadline = endAt + cfg.drain * 1000
  for (const h of handles) h.send({ t: 'start', startAt, drainDeadline })
  let b0 = null
  let h0 = null
  let bEnd = null
  let hEnd = null
  let rssMax = 0
  setTimeout(() => { b0 = procSample(cfg.pid); h0 = hostSample() }, Math.max(0, startAt - nowMs()))
  const endTimer = setTimeout(() => { bEnd = procSample(cfg.pid); hEnd = hostSample() }, Math.max(0, endAt - nowMs()))
  let prev = { sent: 0, recv: 0, b: null }
  const prog = setInterval(() => {
    let sent = 0
    let recv = 0
    for (const h of handles) if (h.progress) { sent += h.progress.sent; recv += h.progress.recv }
    const b = procSample(cfg.pid)
    if (b && b.rssKiB > rssMax) rssMax = b.rssKiB
    log(`t=${round((nowMs() - startAt) / 1000, 1)}s sent=${sent} (+${sent - prev.sent}) recv=${recv} (+${recv - prev.recv})${b && prev.b ? ` broker cpu=${cpuPct(prev.b, b)}% rss=${mib(b.rssKiB)}MiB` : ''}`)
    prev = { sent, recv, b }
  }, 1000)
  let done
  try {
    done = await withTimeout(Promise.all(handles.map((h) => h.wait('pubdone'))), (cfg.duration + cfg.drain + 30) * 1000, 'waiting for the publishers')
  } finally { clearInterval(prog) }
  clearTimeout(endTimer)
  if (!bEnd) { bEnd = procSample(cfg.pid); hEnd = hostSample() }

  const table = []
  let sent = 0
  let acked = 0
  let unacked = 0
  let tEnd = 0
  let genCpuUs = 0
  for (const d of done) {
    for (const p of d.pubs) { table.push([p[0], p[1], p[3]]); sent += p[1]; acked += p[2] }
    unacked += d.unacked
    tEnd = Math.max(tEnd, d.tEnd)
    genCpuUs += d.cpuUs
  }
  for (const h of handles) h.send({ t: 'expect', table })
  const results = await withTimeout(Promise.all(handles.map((h) => h.wait('result'))), (cfg.drain + 30) * 1000, 'waiting for the deliveries')
  const bAfter = procSample(cfg.pid)

  const hist = new Hist()
  const warm = new Hist()
  const drainH = new Hist()
  const order = { complete: 0, quiet: 1, timeout: 2 }
  const sum = { expected: 0, missing: 0, dups: 0, reordered: 0, recvTotal: 0, recvWindow: 0, unexpectedClose: 0, unexpectedAcks: 0, rejected: 0 }
  let drain = 'complete'
  let tDrainEnd = tEnd
  const errors = {}
  const notes = new Set()
  for (const r of results) {
    hist.merge(r.hist); warm.merge(r.warmHist); drainH.merge(r.drainHist)
    for (const k of Object.keys(sum)) sum[k] += r[k]
    if (order[r.drain] > order[drain]) drain = r.drain
    tDrainEnd = Math.max(tDrainEnd, r.tDrainEnd)
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] || 0) + v
    for (const n of r.notes) notes.add(n)
  }
  const win = (tEnd - startAt) / 1000
  const atQos = Math.min(cfg.qos, cfg.subQos)
  const lost = drain === 'timeout' ? null : sum.missing
  const recvRate = sum.recvWindow / win
  const sched = cfg.rate > 0 ? cfg.rate * fanTotal : null
  const keptUp = sched ? recvRate >= 0.95 * sched : null
  const genCpu = round((genCpuUs / 1000 / (win * 1000)) * 100, 1)
  const warnings = []
  if (fanTotal === 0) warnings.push('no subscriber filter matches any publisher topic: nothing is expected to arrive')
  if (atQos >= 1 && sum.missing > 0 && drain !== 'timeout') warnings.push(`QoS ${atQos}: ${sum.missing} message(s) acknowledged by the broker never reached a subscriber`)
  if (drain === 'timeout' && sum.missing > 0) warnings.push(`${sum.missing} deliveries still outstanding when --drain ${cfg.drain}s expired while messages were still arriving: the broker was behind; whether they would have arrived is unknown`)
  if (cfg.qos > 0 && unacked > 0) warnings.push(`${unacked} publish(es) still unacknowledged when --drain ${cfg.drain}s expired`)
  if (sum.unexpectedClose > 0) warnings.push(`${sum.unexpectedClose} connection(s) closed unexpectedly`)
  if (sum.dups > 0) warnings.push(`${sum.dups} duplicate deliveries`)
  if (cfg.rate > 0 && sent < 0.95 * cfg.rate * cfg.pubs * cfg.duration) warnings.push(`sent ${sent} of ${Math.round(cfg.rate * cfg.pubs * cfg.duration)} scheduled: the target rate was not reached`)
  if (genCpu != null && genCpu > 90 * cfg.workers) warnings.push(`generator used ${genCpu}% CPU with ${cfg.workers} worker(s): it may be co-limiting the result (try --workers, mind the cores the broker needs)`)
  if (keptUp === false) warnings.push(`delivered ${Math.floor((recvRate / sched) * 100)}% of the scheduled rate (${round(recvRate)} of ${round(sched)} msg/s in the window): the broker did not keep up`)
  const out = {
    tool: 'vireo-loadgen',
    toolVersion: '1.0.0',
    scenario: cfg.scenario,
    label: cfg.label,
    time: new Date().toISOString(),
    target: `${cfg.host}:${cfg.port}`,
    mqtt: cfg.version === 5 ? '5.0' : '3.1.1',
    qos: cfg.qos,
    subQos: cfg.subQos,
    payloadBytes: cfg.size,
    durationS: cfg.duration,
    windowS: round(win, 3),
    ratePerPub: cfg.rate > 0 ? cfg.rate : 'unlimited',
    pubs: cfg.pubs,
    subs: cfg.subs,
    inflight: cfg.qos > 0 ? cfg.inflight : null,
    maxPending: cfg.rate > 0 ? null : cfg.maxPending,
    workers: cfg.workers,
    sent,
    acked: cfg.qos > 0 ? acked : null,
    received: sum.recvTotal,
    receivedInWindow: sum.recvWindow,
    expected: sum.expected,
    notDelivered: sum.missing,
    // QoS >= 1: acknowledged by the broker, never delivered to a subscriber that matches
    ackedNotDelivered: cfg.qos > 0 ? sum.missing : null,
    lost,
    lossPct: lost === null || !sum.expected ? null : round((lost / sum.expected) * 100, 3),
    drain,
    drainS: round((tDrainEnd - tEnd) / 1000, 3),
    duplicates: sum.dups,
    reordered: sum.reordered,
    dupOrReordered: sum.dups + sum.reordered,
    sendRate: round(sent / win),
    recvRate: round(recvRate),
    scheduledRecvRate: round(sched),
    keptUp,
    latencyMs: hist.summaryMs(),
    drainLatencyMs: drainH.n ? drainH.summaryMs() : null,
    warmupS: cfg.warmup || null,
    warmupLatencyMs: warm.n ? warm.summaryMs() : null,
    broker: cfg.pid
      ? {
          pid: cfg.pid,
          cpuPct: cpuPct(b0, bEnd),
          cpuMs: b0 && bEnd ? round(bEnd.cpuMs - b0.cpuMs) : null,
          rssStartMiB: mib(b0 && b0.rssKiB),
          rssEndMiB: mib(bEnd && bEnd.rssKiB),
          rssMaxMiB: mib(Math.max(rssMax, bEnd ? bEnd.rssKiB : 0, bAfter ? bAfter.rssKiB : 0))
        }
      : null,
    generatorCpuPct: genCpu,
    hostCpuPct: hostPct(h0, hEnd),
    cores: cores(),
    errors,
    notes: [...notes],
    warnings
  }
  log(`sent ${sent}, received ${sum.recvTotal} (${out.recvRate}/s in the window), not delivered ${sum.missing} (drain ${drain}), p50 ${out.latencyMs.p50} ms p99 ${out.latencyMs.p99} ms${out.broker ? `, broker cpu ${out.broker.cpuPct}%` : ''}, generator cpu ${genCpu}%`)
  let exit = 0
  if ((atQos >= 1 && lost !== null && lost > 0) || sum.unexpectedClose > 0) exit = 3
  else if ((atQos >= 1 && drain === 'timeout' && sum.missing > 0) || (cfg.qos >= 1 && unacked > 0)) exit = 4
  return { out, exit }
}

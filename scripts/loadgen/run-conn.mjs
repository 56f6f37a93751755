// Coordinator of a conn run: connect rate, handshake time, broker memory per held connection.

import { Hist } from './hist.mjs'
import { nowMs } from './plan.mjs'
import { procSample, hostSample, cpuPct, hostPct, mib, cores } from './proc.mjs'
import { withTimeout } from './workers.mjs'

const round = (x, d = 0) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export async function runConn (cfg, handles, log) {
  log(`conn: ${cfg.count} connections, ${cfg.rate > 0 ? `${cfg.rate}/s` : `${cfg.concurrency} handshakes in flight`}, hold ${cfg.hold} s${cfg.localAddresses.length ? `, ${cfg.localAddresses.length} source addresses` : ''}`)
  for (const h of handles) h.send({ t: 'setup', cfg, w: h.w })
  await withTimeout(Promise.all(handles.map((h) => h.wait('ready'))), 30000, 'starting the workers')
  const b0 = procSample(cfg.pid)
  const h0 = hostSample()
  const startAt = nowMs() + 50
  for (const h of handles) h.send({ t: 'start', startAt })
  const prog = setInterval(() => {
    let ok = 0
    let fail = 0
    for (const h of handles) if (h.progress) { ok += h.progress.ok; fail += h.progress.fail }
    log(`connecting: ok=${ok} failed=${fail}`)
  }, 1000)
  let conn
  try {
    conn = await withTimeout(Promise.all(handles.map((h) => h.wait('connected'))), cfg.setupTimeout * 1000, 'opening the connections')
  } finally { clearInterval(prog) }
  const b1 = procSample(cfg.pid)
  const h1 = hostSample()
  const hist = new Hist()
  let ok = 0
  let fail = 0
  let t0 = Infinity
  let last = 0
  let tDone = 0
  let cpuUs = 0
  const errors = {}
  for (const c of conn) {
    ok += c.ok
    fail += c.fail
    hist.merge(c.hist)
    t0 = Math.min(t0, c.t0)
    tDone = Math.max(tDone, c.tDone)
    if (c.ok) last = Math.max(last, c.lastOk)
    cpuUs += c.cpuUs
    for (const [k, v] of Object.entries(c.errors)) errors[k] = (errors[k] || 0) + v
  }
  if (ok === 0) throw new Error(`no connection succeeded${Object.keys(errors).length ? `: ${Object.keys(errors)[0]}` : ''}`)
  const connectS = (last - t0) / 1000
  log(`${ok} connected, ${fail} failed in ${round(connectS, 2)} s; holding ${cfg.hold} s`)
  let rssMax = b1 ? b1.rssKiB : 0
  const holdEnd = nowMs() + cfg.hold * 1000
  while (nowMs() < holdEnd) {
    await sleep(Math.min(1000, Math.max(1, holdEnd - nowMs())))
    const b = procSample(cfg.pid)
    if (b && b.rssKiB > rssMax) rssMax = b.rssKiB
  }
  const b2 = procSample(cfg.pid)
  for (const h of handles) h.send({ t: 'finish' })
  const fin = await withTimeout(Promise.all(handles.map((h) => h.wait('result'))), 60000, 'closing the connections')
  let stillUp = 0
  let dropped = 0
  for (const f of fin) { stillUp += f.stillUp; dropped += f.unexpectedClose }
  await sleep(1000)
  const b3 = procSample(cfg.pid)
  const genCpu = tDone > t0 ? round((cpuUs / 1000 / (tDone - t0)) * 100, 1) : null
  const warnings = []
  if (fail > 0) warnings.push(`${fail} of ${cfg.count} connection(s) failed`)
  if (dropped > 0) warnings.push(`${dropped} connection(s) dropped by the broker during the hold`)
  if (genCpu != null && genCpu > 90 * cfg.workers) warnings.push(`generator used ${genCpu}% CPU with ${cfg.workers} worker(s) while connecting: it may be co-limiting the result`)
  const hs = hist.summaryMs()
  const out = {
    tool: 'vireo-loadgen',
    toolVersion: '1.0.0',
    scenario: 'conn',
    label: cfg.label,
    time: new Date().toISOString(),
    target: `${cfg.host}:${cfg.port}`,
    mqtt: cfg.version === 5 ? '5.0' : '3.1.1',
    requested: cfg.count,
    connected: ok,
    failed: fail,
    connectS: round(connectS, 3),
    connRate: round(ok / connectS),
    targetRate: cfg.rate > 0 ? cfg.rate : 'max',
    concurrency: cfg.concurrency,
    localAddresses: cfg.localAddresses.length || null,
    handshakeMs: hs,
    holdS: cfg.hold,
    stillUpAtEnd: stillUp,
    droppedDuringHold: dropped,
    workers: cfg.workers,
    broker: cfg.pid
      ? {
          pid: cfg.pid,
          rssBeforeMiB: mib(b0 && b0.rssKiB),
          rssAfterConnectMiB: mib(b1 && b1.rssKiB),
          rssEndOfHoldMiB: mib(b2 && b2.rssKiB),
          rssMaxMiB: mib(rssMax),
          rssAfterDisconnectMiB: mib(b3 && b3.rssKiB),
          bytesPerConn: b0 && b2 ? Math.round(((b2.rssKiB - b0.rssKiB) * 1024) / ok) : null,
          cpuPctDuringConnect: cpuPct(b0, b1)
        }
      : null,
    generatorCpuPct: genCpu,
    hostCpuPct: hostPct(h0, h1),
    cores: cores(),
    errors,
    warnings
  }
  log(`connect rate ${out.connRate}/s, handshake p50 ${hs.p50} ms p99 ${hs.p99} ms`)
  return { out, exit: fail > 0 || dropped > 0 ? 3 : 0 }
}

#!/usr/bin/env node
// node scripts/cluster-bench.mjs [--duration S] [--pairs N] [--qos 0|1] [--rate R]
// Cross-node delivery against one node, on this machine: 3 `vireo start` processes in a
// static cluster, N publishers on node A, their subscribers on node B (pairs); then the
// same load with publishers and subscribers on one single node. Reports msg/s delivered
// and latency p50/p99 (publisher clock to subscriber clock, same host). The clients
// (MQTT.js) run in this process and share the CPU with the brokers: compare the two
// rows, not the absolute figures. See docs/performance.md.
import { spawn } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import mqtt from 'mqtt'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CLI = path.join(ROOT, 'packages/server/dist/cli.js')
const { values: opt } = parseArgs({ options: { duration: { type: 'string', default: '8' }, pairs: { type: 'string', default: '10' }, qos: { type: 'string', default: '1' }, rate: { type: 'string', default: '0' }, takeovers: { type: 'string', default: '20' }, queued: { type: 'string', default: '1000' } } })
const DURATION = Number(opt.duration) * 1000
const PAIRS = Number(opt.pairs)
const QOS = Number(opt.qos)
const WINDOW = 32
// msg/s per publisher; 0 = as fast as the window allows (saturation: latency is queueing)
const RATE = Number(opt.rate)

const freePort = () => new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) }) })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const procs = []
process.on('exit', () => { for (const p of procs) p.kill('SIGKILL') })

function startNode (name, rpc, mqttPort, seeds, clustered) {
  const env = { ...process.env, VIREO_NODE__NAME: name, VIREO_NODE__COOKIE: 'bench-cluster-cookie', VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${mqttPort}`, VIREO_LISTENERS__WS__DEFAULT__BIND: '0', VIREO_LOG__LEVEL: 'warning', VIREO_DURABLE_STORAGE__BACKEND: 'memory', VIREO_MQTT__MAX_MQUEUE_LEN: '100000', VIREO_DASHBOARD__LISTENERS__HTTP__BIND: '0' }
  if (clustered) Object.assign(env, { VIREO_CLUSTER__DISCOVERY_STRATEGY: 'static', VIREO_CLUSTER__STATIC__SEEDS: `[${seeds.map((p) => `127.0.0.1:${p}`).join(', ')}]`, VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${rpc}` })
  else env.VIREO_CLUSTER__RPC__BIND = '0' // the single-node baseline opens no cluster port
  const p = spawn(process.execPath, [CLI, 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
  procs.push(p)
  return p
}

async function connect (port, clientId) {
  for (let i = 0; ; i++) {
    try {
      return await new Promise((resolve, reject) => {
        const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, reconnectPeriod: 0, protocolVersion: 4 })
        c.once('connect', () => resolve(c)); c.once('error', (e) => { c.end(true); reject(e) })
      })
    } catch (e) { if (i > 50) throw e; await sleep(100) }
  }
}

async function run (label, pubPort, subPort) {
  const subs = []; const pubs = []
  const lat = []; let received = 0; let counting = false
  for (let i = 0; i < PAIRS; i++) {
    const s = await connect(subPort, `bs-${label}-${i}`)
    s.on('message', (_t, payload) => { if (!counting) return; received++; lat.push(Date.now() - Number(payload.readBigInt64BE(0))) })
    await s.subscribeAsync(`bench/${i}`, { qos: QOS })
    subs.push(s)
    pubs.push(await connect(pubPort, `bp-${label}-${i}`))
  }
  // routes settle: a probe on every pair must arrive first
  for (let i = 0; i < PAIRS; i++) {
    const got = new Promise((r) => subs[i].once('message', r))
    for (let k = 0; ; k++) { pubs[i].publish(`bench/${i}`, Buffer.alloc(64)); if (await Promise.race([got.then(() => true), sleep(100).then(() => false)])) break }
  }
  await sleep(200)
  counting = true
  const end = Date.now() + DURATION
  const started = Date.now()
  await Promise.all(pubs.map(async (p, i) => {
    const inflight = new Set()
    let sent = 0
    while (Date.now() < end) {
      if (RATE > 0 && sent >= (Date.now() - started) * RATE / 1000) { await sleep(2); continue }
      sent++
      const payload = Buffer.alloc(64); payload.writeBigInt64BE(BigInt(Date.now()), 0)
      const pr = p.publishAsync(`bench/${i}`, payload, { qos: QOS })
      inflight.add(pr); pr.finally(() => inflight.delete(pr))
      if (inflight.size >= WINDOW) await Promise.race(inflight)
      else if (QOS === 0 && (received % 64 === 0)) await sleep(0)
    }
    await Promise.all(inflight)
  }))
  await sleep(500)
  const secs = (Date.now() - started - 500) / 1000
  counting = false
  lat.sort((a, b) => a - b)
  const pct = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? NaN
  for (const c of [...subs, ...pubs]) c.end(true)
  return { label, msgs: received, rate: Math.round(received / secs), p50: pct(0.5), p99: pct(0.99) }
}

// A persistent session with `queued` QoS 1 messages waiting moves between A and B, `n`
// times: CONNECT sent → CONNACK, and → the last queued message received.
async function takeovers (portA, portB, n) {
  const queued = Number(opt.queued)
  const opts = { clientId: 'bench-tk', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 300 }, reconnectPeriod: 0 }
  const pub = await connect(portA, 'bench-tk-pub')
  const first = mqtt.connect(`mqtt://127.0.0.1:${portA}`, opts)
  await new Promise((r) => first.once('connect', r))
  await first.subscribeAsync('tk/t', { qos: 1 })
  await new Promise((r) => first.end(false, {}, r))
  const connack = []; const drained = []
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < queued; k++) pub.publish('tk/t', Buffer.alloc(64), { qos: 1 })
    await sleep(300)
    const t0 = performance.now()
    const c = mqtt.connect(`mqtt://127.0.0.1:${i % 2 === 0 ? portB : portA}`, opts)
    let got = 0
    const all = new Promise((r) => c.on('message', () => { if (++got === queued) r() }))
    await new Promise((r) => c.once('connect', r))
    connack.push(performance.now() - t0)
    await all
    drained.push(performance.now() - t0)
    await new Promise((r) => c.end(false, {}, r))
    await sleep(100)
  }
  pub.end(true)
  const pct = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(1) }
  return { n, queued, connackP50: pct(connack, 0.5), connackP99: pct(connack, 0.99), drainedP50: pct(drained, 0.5), drainedP99: pct(drained, 0.99) }
}

const rpc = [await freePort(), await freePort(), await freePort()]
const mq = [await freePort(), await freePort(), await freePort()]
rpc.forEach((p, i) => startNode(`bench${i}@127.0.0.1`, p, mq[i], rpc, true))
await sleep(2500)
const cross = await run('cross', mq[0], mq[1])
const takeover = await takeovers(mq[0], mq[1], Number(opt.takeovers))
for (const p of procs.splice(0)) p.kill('SIGKILL')
const single = startNode('single@127.0.0.1', 0, mq[0], [], false)
await sleep(1000)
const local = await run('single', mq[0], mq[0])
single.kill('SIGKILL')
console.log(`pairs=${PAIRS} qos=${QOS} rate=${RATE || 'max'}/publisher duration=${DURATION / 1000}s payload=64B window=${WINDOW}`)
console.log('| run | delivered msg/s | latency p50 ms | p99 ms |')
console.log('| --- | ---: | ---: | ---: |')
for (const r of [cross, local]) console.log(`| ${r.label === 'cross' ? '3-node cluster, pub on A, sub on B' : 'single node'} | ${r.rate} | ${r.p50} | ${r.p99} |`)
console.log(`cross-node / single-node throughput: ${(cross.rate / local.rate * 100).toFixed(0)}%`)
console.log(`takeover A<->B with ${takeover.queued} queued QoS 1 messages, ${takeover.n} times: CONNECT→CONNACK p50 ${takeover.connackP50} ms, p99 ${takeover.connackP99} ms; CONNECT→last queued message p50 ${takeover.drainedP50} ms, p99 ${takeover.drainedP99} ms`)
process.exit(0)

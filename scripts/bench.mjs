#!/usr/bin/env node
// npm run bench [-- options]: Vireo against Aedes and Mosquitto under the neutral load
// generator ../shared/bench/mqtt-bench.mjs when it is there, else under our own
// (scripts/loadgen/cli.mjs, same options and JSON). See docs/performance.md.
//
// Every run gets a fresh broker process on a free loopback port; the generator samples the
// broker's CPU and RSS itself (--pid). Brokers alternate between repetitions, as in
// ../shared/bench/ANCHORS.md. Tables go to stdout and, with the raw JSON of every run, to
// bench-results/<timestamp>.md and .json.

import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { resolveGenerators, compareSection } from './bench/generators.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const AEDES_SERVER = path.join(ROOT, 'scripts/aedes-server.mjs')
// not a broker: the least a Node.js process does to pass `pairs` (docs/performance.md); opt-in
const NODE_FLOOR = path.join(ROOT, 'scripts/node-floor-relay.mjs')
const ALL_BROKERS = ['vireo', 'aedes', 'mosquitto']
// Vireo with its HTTP API on, Prometheus metrics on and scraped every second / off
// (prometheus.enable false): the `metrics` scenario compares the two
const METRICS_VARIANTS = ['vireo-metrics', 'vireo-nometrics', 'vireo-metrics-noscrape']
const SCRAPE_MS = 1000
const DEFAULT_FANOUT_RATES = [50, 70, 90, 110, 140, 200]

const USAGE = `usage: npm run bench [-- options]      (or: node scripts/bench.mjs [options])

  --only LIST          scenarios, comma-separated (default: all):
                       ${'pairs-q0,pairs-q1,pairs-fixed,fanout,fanin,conn,metrics'}
                       (metrics: pairs-q0 on Vireo with metrics on vs off, 5 runs each;
                       alone it runs vireo-metrics,vireo-nometrics)
  --brokers LIST       vireo,aedes,mosquitto (default: all three), or the Vireo variants
                       vireo-metrics (HTTP API, prometheus.enable true, scraped every
                       ${SCRAPE_MS / 1000} s during the run) and vireo-nometrics (HTTP API,
                       prometheus.enable false); vireo-metrics-noscrape (metrics on, not
                       scraped) tells the scrapes' share apart; node-floor (not a broker:
                       scripts/node-floor-relay.mjs, exact-topic pairs only) shows what
                       Node.js itself costs
  --duration N         seconds of publishing per pub/sub run (default 10)
  --runs N             repetitions per scenario, per fanout rate (default: per scenario,
                       pairs-q0/q1 3, pairs-fixed 2, conn 2, fanin 1, fanout 1 per rate)
  --hold N             conn: seconds to hold the connections (default 5)
  --conns N            conn: connections to open (default 10000)
  --fanout-rates LIST  fanout: publish rates to climb (default ${DEFAULT_FANOUT_RATES.join(',')})
  --generator G        shared (../shared/bench/mqtt-bench.mjs, or $MQTT_BENCH), ours
                       (scripts/loadgen/cli.mjs) or a PATH; default: shared when the file
                       exists, else ours
  --compare-generators every run twice, with shared and with ours (alternating, a fresh
                       broker each), and a table of ours ÷ shared per figure
  --warmup N           fixed-rate runs (pairs-fixed, fanin): N s of warm-up before the
                       --duration s of steady state, latency reported apart (default 5; 0 = off)
  --vireo PATH         vireo CLI (default packages/server/dist/cli.js)
  --mosquitto PATH     mosquitto binary (default /usr/sbin/mosquitto, else from PATH)
  --queue N            per-client queue cap: Mosquitto's max_queued_messages and Vireo's
                       mqtt.max_mqueue_len. Default: each broker's own default (Vireo's
                       mqtt.max_mqueue_len 1000, Mosquitto's max_queued_messages 1000).
                       Alias --mosquitto-queue
  --out DIR            results directory (default bench-results)
  --keep               keep the temporary directory (broker configs, logs, data dirs)
  --verbose            echo the generator's progress (stderr)
  --dry-run            print the plan and the command lines, start nothing
  -h, --help           this text
`

// ---------------------------------------------------------------------------
// options

function fail (msg) {
  process.stderr.write(`bench: ${msg}\n`)
  process.exit(2)
}

function positiveInt (name, v) {
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0) fail(`--${name} must be a positive integer, not ${JSON.stringify(v)}`)
  return n
}

function nonNegativeInt (name, v) {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a non-negative integer, not ${JSON.stringify(v)}`)
  return n
}

// fixed-rate runs: --warmup s of start-up, then --duration s of steady state
const fixedArgs = () => ['-d', String(opts.duration + opts.warmup), ...(opts.warmup ? ['--warmup', String(opts.warmup)] : [])]

function list (v) {
  return String(v).split(',').map((s) => s.trim()).filter(Boolean)
}

let parsed
try {
  parsed = parseArgs({
    options: {
      only: { type: 'string' },
      brokers: { type: 'string' },
      duration: { type: 'string' },
      runs: { type: 'string' },
      hold: { type: 'string' },
      conns: { type: 'string' },
      'fanout-rates': { type: 'string' },
      generator: { type: 'string' },
      'compare-generators': { type: 'boolean' },
      warmup: { type: 'string' },
      vireo: { type: 'string' },
      mosquitto: { type: 'string' },
      'queue': { type: 'string' },
      'mosquitto-queue': { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean' },
      verbose: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    },
    strict: true,
    allowPositionals: false
  }).values
} catch (err) {
  fail(`${err.message}\n${USAGE}`)
}
if (parsed.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}

const opts = {
  duration: parsed.duration ? positiveInt('duration', parsed.duration) : 10,
  runs: parsed.runs ? positiveInt('runs', parsed.runs) : null,
  hold: parsed.hold ? positiveInt('hold', parsed.hold) : 5,
  conns: parsed.conns ? positiveInt('conns', parsed.conns) : 10000,
  fanoutRates: parsed['fanout-rates'] ? list(parsed['fanout-rates']).map((r) => positiveInt('fanout-rates', r)).sort((a, b) => a - b) : DEFAULT_FANOUT_RATES,
  // null: each broker keeps its default (the issue's targets are judged with Vireo's defaults)
  queue: parsed.queue ? positiveInt('queue', parsed.queue) : parsed['mosquitto-queue'] ? positiveInt('mosquitto-queue', parsed['mosquitto-queue']) : null,
  warmup: parsed.warmup !== undefined ? nonNegativeInt('warmup', parsed.warmup) : 5,
  ...resolveGenerators(ROOT, parsed.generator, !!parsed['compare-generators'], fail),
  out: path.resolve(ROOT, parsed.out || 'bench-results'),
  keep: !!parsed.keep,
  verbose: !!parsed.verbose,
  dryRun: !!parsed['dry-run']
}

// ---------------------------------------------------------------------------
// scenarios: the command lines of ANCHORS.md, with -d from --duration

const SCENARIOS = [
  {
    name: 'pairs-q0',
    title: 'pairs, 100 pairs, QoS 0, unlimited (closed loop)',
    about: '100 independent publisher→subscriber streams (publisher i → `bench/i` → subscriber i), as fast as possible; each publisher stays at most 100 messages (`--max-pending`) ahead of its subscriber. Measures throughput.',
    runs: 3,
    kind: 'pubsub',
    littleLatency: true,
    args: () => ['pairs', '-n', '100', '-q', '0', '-d', String(opts.duration)]
  },
  {
    name: 'pairs-q1',
    title: 'pairs, 100 pairs, QoS 1, unlimited (closed loop)',
    about: 'The same streams at QoS 1, at most 32 unacknowledged publishes per publisher (`--inflight`). Measures throughput with acknowledgements.',
    runs: 3,
    kind: 'pubsub',
    littleLatency: true,
    args: () => ['pairs', '-n', '100', '-q', '1', '-d', String(opts.duration)]
  },
  {
    name: 'pairs-fixed',
    title: 'pairs, 100 pairs × 50 msg/s = 5 000 msg/s, QoS 1 (fixed rate)',
    about: 'A modest fixed load, scheduled open loop. Measures service latency, and the CPU and memory the broker spends on that load.',
    runs: 2,
    kind: 'pubsub',
    fixedRate: true,
    args: () => ['pairs', '-n', '100', '-r', '50', '-q', '1', ...fixedArgs()]
  },
  {
    name: 'fanout',
    title: 'fanout, 1 publisher → 1 000 subscribers, QoS 0 (rate ladder)',
    about: 'One publisher on `bench/0`, 1 000 subscribers on `bench/0`; `-r R` publishes/s schedule R × 1 000 deliveries/s. Each broker climbs the rates until it first delivers less than 95 % of the schedule in the window (`keptUp: false`). Measures how fast the broker copies one message to many subscribers.',
    runs: 1,
    kind: 'pubsub',
    fixedRate: true,
    ladder: true,
    args: (rate) => ['fanout', '--subs', '1000', '-r', String(rate), '-q', '0', '-d', String(opts.duration)]
  },
  {
    name: 'fanin',
    title: 'fanin, 1 000 publishers × 10 msg/s → 1 subscriber on `bench/#`, QoS 1',
    about: '1 000 publishers on `bench/<i>` at 10 msg/s each (10 000 msg/s) into one subscriber on `bench/#`. Measures many senders into one receiver, through a wildcard filter.',
    runs: 1,
    kind: 'pubsub',
    fixedRate: true,
    args: () => ['fanin', '--pubs', '1000', '-r', '10', '--subs', '1', '--sub-topic', 'bench/#', '-q', '1', ...fixedArgs()]
  },
  {
    name: 'metrics',
    title: 'metrics on vs off: pairs, 100 pairs, QoS 0, unlimited (closed loop)',
    about: `pairs-q0 on two Vireo variants, alternating run by run: \`vireo-metrics\` (HTTP API up, \`prometheus.enable: true\`: Node.js process collectors, delivery-latency sampling, and the bench scraping \`/api/v5/prometheus/stats\` every ${SCRAPE_MS / 1000} s, far more often than Prometheus would) and \`vireo-nometrics\` (HTTP API up, \`prometheus.enable: false\`, not scraped). The plain counters are in both: they cannot be turned off. Measures what metrics cost at full QoS 0 throughput.`,
    runs: 5,
    kind: 'pubsub',
    littleLatency: true,
    args: () => ['pairs', '-n', '100', '-q', '0', '-d', String(opts.duration)]
  },
  {
    name: 'conn',
    title: `conn, ${fmtNum(opts.conns)} idle connections, held ${opts.hold} s`,
    about: 'Idle connections spread over 19 source addresses (127.0.0.2–127.0.0.20), as fast as 100 handshakes in flight allow, held, then closed cleanly. Measures connect rate, handshake latency and broker memory per held connection.',
    runs: 2,
    kind: 'conn',
    args: () => ['conn', '-c', String(opts.conns), '--local-addresses', '127.0.0.2-127.0.0.20', '--hold', String(opts.hold)]
  }
]

const selected = parsed.only ? list(parsed.only) : SCENARIOS.map((s) => s.name)
for (const n of selected) if (!SCENARIOS.some((s) => s.name === n)) fail(`unknown scenario ${JSON.stringify(n)} in --only (known: ${SCENARIOS.map((s) => s.name).join(', ')})`)
const scenarios = SCENARIOS.filter((s) => selected.includes(s.name))

const VIREO_CLI = path.resolve(parsed.vireo || path.join(ROOT, 'packages/server/dist/cli.js'))
const onlyMetrics = selected.length === 1 && selected[0] === 'metrics'
const requested = parsed.brokers ? list(parsed.brokers) : onlyMetrics ? METRICS_VARIANTS.slice(0, 2) : ALL_BROKERS
const KNOWN_BROKERS = [...ALL_BROKERS, ...METRICS_VARIANTS, 'node-floor']
for (const b of requested) if (!KNOWN_BROKERS.includes(b)) fail(`unknown broker ${JSON.stringify(b)} in --brokers (known: ${KNOWN_BROKERS.join(', ')})`)
if (requested.includes('node-floor')) {
  const other = scenarios.filter((s) => !s.name.startsWith('pairs')).map((s) => s.name)
  if (other.length) fail(`node-floor handles the pairs scenarios only (exact topics), not ${other.join(', ')}: pass --only pairs-fixed (or pairs-q0, pairs-q1)`)
}
const isVireo = (name) => name === 'vireo' || METRICS_VARIANTS.includes(name)

// ---------------------------------------------------------------------------
// formatting

function fmtNum (v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–'
  if (typeof v !== 'number') return String(v)
  const a = Math.abs(v)
  if (a >= 1000 || (Number.isInteger(v) && a >= 100)) return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ' ')
  if (Number.isInteger(v)) return String(v)
  if (a < 1) return v.toFixed(3)
  if (a < 10) return v.toFixed(2)
  return v.toFixed(1)
}

function median (xs) {
  const s = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b)
  if (!s.length) return null
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function mdTable (header, rows) {
  const all = [header, ...rows].map((r) => r.map((c) => String(c)))
  const w = header.map((_, i) => Math.max(3, ...all.map((r) => [...r[i]].length)))
  const line = (r) => '| ' + r.map((c, i) => c + ' '.repeat(w[i] - [...c].length)).join(' | ') + ' |'
  return [line(all[0]), '| ' + w.map((n) => '-'.repeat(n)).join(' | ') + ' |', ...all.slice(1).map(line)].join('\n')
}

const stamp = () => new Date().toISOString().slice(11, 19)
const say = (msg) => process.stdout.write(`[bench ${stamp()}] ${msg}\n`)
const warn = (msg) => process.stderr.write(`[bench ${stamp()}] warning: ${msg}\n`)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------
// processes: every child is tracked and killed on exit, error or signal

const children = new Set()
let tmpRoot = null

function track (child) {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

const alive = (child) => child.exitCode === null && child.signalCode === null

function waitExit (child, ms) {
  if (!alive(child)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms)
    child.once('exit', () => { clearTimeout(t); resolve(true) })
  })
}

async function stop (child, graceMs = 5000) {
  if (!alive(child)) return
  child.kill('SIGTERM')
  if (await waitExit(child, graceMs)) return
  child.kill('SIGKILL')
  await waitExit(child, 2000)
}

function killAllSync () {
  for (const c of children) if (alive(c)) { try { c.kill('SIGKILL') } catch {} }
}

process.on('exit', () => {
  killAllSync()
  if (tmpRoot && !opts.keep) { try { fs.rmSync(tmpRoot, { recursive: true, force: true }) } catch {} }
})

let interrupted = false
async function onSignal (sig) {
  if (interrupted) { killAllSync(); process.exit(130) }
  interrupted = true
  warn(`${sig}: stopping the brokers and the generator`)
  await Promise.all([...children].map((c) => stop(c, 1500)))
  try { if (meta) { writeReport(true); say(`wrote the partial report: ${path.relative(process.cwd(), reportBase)}.md and .json`) } } catch (err) { warn(`could not write the partial report: ${err.message}`) }
  process.exit(sig === 'SIGINT' ? 130 : 143)
}
process.on('SIGINT', () => onSignal('SIGINT'))
process.on('SIGTERM', () => onSignal('SIGTERM'))
process.on('SIGHUP', () => onSignal('SIGHUP'))

// spawn through sh to raise the soft limit of open files to the hard limit (10 000 connections
// need more than the usual 1024); `exec` keeps the PID, so the PID is the broker's own
function spawnRaised (cmd, args, options) {
  return spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', cmd, ...args], options)
}

function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function tail (file, bytes = 3000) {
  try {
    const b = fs.readFileSync(file)
    return b.subarray(Math.max(0, b.length - bytes)).toString('utf8')
  } catch {
    return ''
  }
}

async function waitListening (port, child, ms) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!alive(child)) throw new Error(`exited during start-up (${child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode})`)
    const ok = await new Promise((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' })
      s.once('connect', () => { s.destroy(); resolve(true) })
      s.once('error', () => { s.destroy(); resolve(false) })
    })
    if (ok) return
    await sleep(100)
  }
  throw new Error(`not listening on 127.0.0.1:${port} after ${ms / 1000} s`)
}

// ---------------------------------------------------------------------------
// brokers

function findMosquitto () {
  const cands = parsed.mosquitto ? [parsed.mosquitto] : ['/usr/sbin/mosquitto', ...(process.env.PATH || '').split(':').map((d) => path.join(d, 'mosquitto'))]
  for (const c of cands) { try { fs.accessSync(c, fs.constants.X_OK); return c } catch {} }
  return null
}

function versionOf (broker) {
  try {
    if (broker === 'mosquitto') {
      let out = ''
      try { out = execFileSync(MOSQUITTO, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) } catch (err) { out = String(err.stdout || '') + String(err.stderr || '') }
      const m = /mosquitto version (\S+)/.exec(out)
      return m ? m[1] : null
    }
    if (broker === 'aedes') return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/aedes/package.json'), 'utf8')).version
    if (isVireo(broker)) {
      const v = JSON.parse(fs.readFileSync(path.join(ROOT, 'packages/server/package.json'), 'utf8')).version
      let commit = ''
      try {
        commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
        const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages'], { cwd: ROOT, encoding: 'utf8' }).trim()
        if (dirty) commit += ' + uncommitted changes in packages/'
      } catch {}
      return `${v}${commit ? ` (${commit})` : ''}`
    }
  } catch {}
  return null
}

const MOSQUITTO = findMosquitto()
const brokers = []
const skipped = {}
for (const b of requested) {
  if (isVireo(b) && !fs.existsSync(VIREO_CLI)) skipped[b] = `${path.relative(ROOT, VIREO_CLI)} not found (build it: npm run build)`
  else if (b === 'mosquitto' && !MOSQUITTO) skipped.mosquitto = `no mosquitto binary (${parsed.mosquitto || '/usr/sbin/mosquitto'}, PATH); install the Debian package mosquitto or pass --mosquitto PATH`
  else if (b === 'aedes' && !fs.existsSync(path.join(ROOT, 'node_modules/aedes/package.json'))) skipped.aedes = 'node_modules/aedes not found (npm ci)'
  else brokers.push(b)
}
for (const [b, why] of Object.entries(skipped)) warn(`skipping ${b}: ${why}`)
if (!brokers.length) fail('no broker left to measure')
for (const g of opts.generators) if (!fs.existsSync(g.path)) fail(`generator not found: ${g.path} (pass --generator shared|ours|PATH, or set MQTT_BENCH)`)
// ratios: vireo against each other broker; without vireo, the first broker against the others
const BASE = brokers.includes('vireo') ? 'vireo' : brokers.includes('vireo-metrics') ? 'vireo-metrics' : brokers[0]
const OTHERS = brokers.filter((b) => b !== BASE)

// Mosquitto as in the issue's table: max_queued_messages 1000 (its default, written out) unless
// --queue sets both brokers' caps; max_inflight_messages keeps its default (20). Vireo keeps its
// defaults (mqtt.max_mqueue_len 1000): the fanin row is judged with what a user gets.
function mosquittoConf (port) {
  return `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages ${opts.queue ?? 1000}\n`
}

let seq = 0
async function startBroker (name) {
  if (interrupted) throw new Error('interrupted')
  const port = await freePort()
  const dir = path.join(tmpRoot, `${String(++seq).padStart(3, '0')}-${name}`)
  fs.mkdirSync(dir, { recursive: true })
  const logPath = path.join(dir, 'broker.log')
  const env = { ...process.env }
  let cmd
  let args
  let apiPort = 0
  if (isVireo(name)) {
    const rpcPort = await freePort()
    if (name !== 'vireo') apiPort = await freePort()
    Object.assign(env, {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_DASHBOARD__LISTENERS__HTTP__BIND: apiPort ? `127.0.0.1:${apiPort}` : '0',
      VIREO_PROMETHEUS__ENABLE: String(name !== 'vireo-nometrics'),
      // not the default 5370: other vireo nodes (tests) may run on this machine
      VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${rpcPort}`,
      VIREO_LOG__LEVEL: 'warning',
      // --queue: the same queue cap as Mosquitto's max_queued_messages (see mosquittoConf)
      ...(opts.queue ? { VIREO_MQTT__MAX_MQUEUE_LEN: String(opts.queue) } : {}),
      VIREO_NODE__DATA_DIR: path.join(dir, 'data')
    })
    fs.mkdirSync(env.VIREO_NODE__DATA_DIR)
    cmd = process.execPath
    args = [VIREO_CLI, 'start']
  } else if (name === 'aedes') {
    cmd = process.execPath
    args = [AEDES_SERVER, String(port)]
  } else if (name === 'node-floor') {
    cmd = process.execPath
    args = [NODE_FLOOR, String(port)]
  } else {
    const conf = path.join(dir, 'mosquitto.conf')
    fs.writeFileSync(conf, mosquittoConf(port))
    cmd = MOSQUITTO
    args = ['-c', conf]
  }
  const fd = fs.openSync(logPath, 'w')
  let child
  try {
    child = track(spawnRaised(cmd, args, { cwd: ROOT, env, stdio: ['ignore', fd, fd] }))
  } finally {
    fs.closeSync(fd)
  }
  try {
    await waitListening(port, child, isVireo(name) ? 30000 : 15000)
  } catch (err) {
    await stop(child, 1000)
    const e = new Error(`${name} ${err.message}`)
    e.log = tail(logPath)
    throw e
  }
  return { name, port, apiPort, pid: child.pid, child, logPath, command: [cmd, ...args].map((a) => path.isAbsolute(a) && a.startsWith(ROOT) ? path.relative(ROOT, a) : a).join(' ') }
}

// ---------------------------------------------------------------------------
// one generator run against one fresh broker

function runGenerator (gen, args, timeoutS) {
  return new Promise((resolve) => {
    const child = track(spawnRaised(process.execPath, [gen.path, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }))
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => {
      err += d
      if (err.length > 200000) err = err.slice(-100000)
      if (opts.verbose) process.stderr.write(d)
    })
    const timer = setTimeout(() => { err += `\n[bench] generator still running after ${timeoutS} s: stopped\n`; stop(child, 3000) }, timeoutS * 1000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const last = out.trim().split('\n').pop() || ''
      let json = null
      try { json = last ? JSON.parse(last) : null } catch {}
      resolve({ code: code ?? (signal ? `${signal}` : null), json, stderr: err })
    })
  })
}

const records = []

async function runOne (sc, broker, rep, rate, gen = opts.generators[0]) {
  const scArgs = sc.args(rate)
  const rec = { scenario: sc.name, broker, generator: gen.name, rep: rep + 1, rate: rate ?? null, time: new Date().toISOString(), loadavgBefore: os.loadavg().map((x) => Math.round(x * 100) / 100) }
  records.push(rec)
  const what = `[${sc.name}${rate ? ` -r ${rate}` : ''} ${rep + 1}] ${broker}${opts.generators.length > 1 ? ` (${gen.name} generator)` : ''}`
  let b
  try {
    b = await startBroker(broker)
  } catch (err) {
    rec.error = `broker did not start: ${err.message}`
    rec.brokerLog = err.log
    warn(`${what}: ${rec.error}${err.log ? `\n${err.log.trimEnd().split('\n').slice(-10).join('\n')}` : ''}`)
    return rec
  }
  rec.brokerCommand = b.command
  rec.port = b.port
  rec.pid = b.pid
  await sleep(1000) // let the fresh process settle (JIT, GC) before the generator samples it
  const args = [...scArgs, '-p', String(b.port), '--pid', String(b.pid), '--label', broker]
  rec.command = ['node', gen.display, ...args].map((a) => /[^\w./:,=-]/.test(a) ? `'${a}'` : a).join(' ')
  const timeoutS = sc.kind === 'conn' ? opts.hold + 600 : opts.duration + 5 + 600
  const scraper = b.name === 'vireo-metrics' ? startScraper(b.apiPort) : null
  const g = await runGenerator(gen, args, timeoutS)
  if (scraper) rec.scrapes = await scraper.stop()
  rec.exitCode = g.code
  rec.result = g.json
  if (interrupted) { rec.error = 'interrupted'; return rec }
  if (!alive(b.child)) {
    rec.brokerExited = b.child.exitCode !== null ? `code ${b.child.exitCode}` : b.child.signalCode
    rec.brokerLog = tail(b.logPath)
  }
  await stop(b.child)
  if (g.json && g.json.error) rec.error = g.json.error
  else if (!g.json) rec.error = `no JSON from the generator (exit ${g.code})`
  if (rec.error || rec.brokerExited) {
    rec.generatorStderr = g.stderr.slice(-4000)
    if (!rec.brokerLog) rec.brokerLog = tail(b.logPath)
  }
  say(`${what}: ${summaryLine(sc, rec)}`)
  if (rec.brokerExited) warn(`${what}: the broker exited during the run (${rec.brokerExited}); log:\n${rec.brokerLog.trimEnd().split('\n').slice(-10).join('\n')}`)
  if (rec.error && !rec.brokerExited) warn(`${what}: ${rec.error}\n${g.stderr.trimEnd().split('\n').slice(-5).join('\n')}`)
  for (const w of (rec.result && rec.result.warnings) || []) say(`    warning: ${w}`)
  await sleep(1000) // sockets in TIME_WAIT, the broker's memory back to the system
  return rec
}

// Prometheus' part in the metrics-on runs: a scrape every SCRAPE_MS, one at a time
function startScraper (apiPort) {
  const st = { ok: 0, failed: 0, bytes: 0, msMax: 0, errors: [] }
  const failed = (why) => { st.failed++; if (st.errors.length < 3) st.errors.push(why) }
  let busy = null
  const once = async () => {
    const t0 = Date.now()
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v5/prometheus/stats`)
      const text = await res.text()
      if (res.ok && text.includes('vireo_delivery_latency_seconds_count')) { st.ok++; st.bytes = text.length } else failed(`HTTP ${res.status}: ${text.slice(0, 100)}`)
    } catch (err) { failed(String(err && err.cause ? err.cause.code || err.cause.message : err)) }
    st.msMax = Math.max(st.msMax, Date.now() - t0)
  }
  const timer = setInterval(() => { if (!busy) busy = once().finally(() => { busy = null }) }, SCRAPE_MS)
  return { async stop () { clearInterval(timer); await busy; return st } }
}

function summaryLine (sc, rec) {
  const r = rec.result
  if (!r || r.error) return `failed (exit ${rec.exitCode}): ${rec.error}`
  const cpu = r.broker ? (sc.kind === 'conn' ? r.broker.cpuPctDuringConnect : r.broker.cpuPct) : null
  if (sc.kind === 'conn') {
    return `${r.connected}/${r.requested} connected, ${fmtNum(r.connRate)} conn/s, handshake p50 ${fmtNum(r.handshakeMs.p50)} ms p99 ${fmtNum(r.handshakeMs.p99)} ms, ` +
      `${fmtNum(r.broker && r.broker.bytesPerConn)} B/conn, broker cpu ${fmtNum(cpu)} %, exit ${rec.exitCode}`
  }
  return `${fmtNum(r.recvRate)} msg/s${r.scheduledRecvRate ? ` of ${fmtNum(r.scheduledRecvRate)} scheduled` : ''}, p50 ${fmtNum(r.latencyMs.p50)} ms p99 ${fmtNum(r.latencyMs.p99)} ms, ` +
    `broker cpu ${fmtNum(cpu)} % rss peak ${fmtNum(r.broker && r.broker.rssMaxMiB)} MiB, lost ${r.lost ?? '? (drain timeout)'}, generator cpu ${fmtNum(r.generatorCpuPct)} %, exit ${rec.exitCode}`
}

const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length])
const runsOf = (sc) => opts.runs ?? sc.runs

async function runScenario (sc) {
  say(`== ${sc.name}: ${sc.title}`)
  if (!sc.ladder) {
    for (let rep = 0; rep < runsOf(sc); rep++) {
      for (const b of rotate(brokers, rep)) {
        for (const gen of rotate(opts.generators, rep)) if (!interrupted) await runOne(sc, b, rep, undefined, gen)
      }
    }
    return
  }
  // fanout: climb the rates; a broker leaves the ladder at the first rate it does not sustain
  let climbing = [...brokers]
  for (const [i, rate] of opts.fanoutRates.entries()) {
    if (!climbing.length) break
    for (let rep = 0; rep < runsOf(sc); rep++) {
      for (const b of rotate(climbing, i + rep)) {
        for (const gen of rotate(opts.generators, rep)) if (!interrupted) await runOne(sc, b, rep, rate, gen)
      }
    }
    climbing = climbing.filter((b) => sustained(recordsOf(sc.name, b, rate)))
  }
}

// ---------------------------------------------------------------------------
// tables

// the tables show the first generator's runs; --compare-generators adds its own table
const primary = (r) => r.generator === opts.generators[0].name
const recordsOf = (scenario, broker, rate) => records.filter((r) => primary(r) && r.scenario === scenario && r.broker === broker && (rate === undefined || r.rate === rate))
const okResult = (rec) => rec.result && !rec.result.error ? rec.result : null
const sustained = (recs) => recs.length > 0 && recs.every((rec) => okResult(rec) && rec.result.keptUp === true)

// CPU of everything else on the host over the window, in % of one core: host − broker − generator
function otherLoad (r, kind) {
  const cpu = r.broker ? (kind === 'conn' ? r.broker.cpuPctDuringConnect : r.broker.cpuPct) : null
  if (r.hostCpuPct == null || cpu == null || r.generatorCpuPct == null || !r.cores) return null
  return Math.max(0, Math.round((r.hostCpuPct * r.cores - cpu - r.generatorCpuPct) * 10) / 10)
}

const PUBSUB_ROWS = [
  { label: 'delivered msg/s (recvRate)', get: (r) => r.recvRate, ratio: true },
  { label: 'sent msg/s', get: (r) => r.sendRate },
  { label: 'latency p50 ms', get: (r) => r.latencyMs && r.latencyMs.p50, ratio: true, little: true, steady: true },
  { label: 'latency p99 ms', get: (r) => r.latencyMs && r.latencyMs.p99, ratio: true, little: true, steady: true },
  { label: 'latency p99.9 ms', get: (r) => r.latencyMs && r.latencyMs.p999, ratio: true, little: true, steady: true },
  { label: 'latency max ms', get: (r) => r.latencyMs && r.latencyMs.max, ratio: true, little: true, steady: true },
  // the first --warmup seconds: a JIT runtime warms up, a C broker does not
  { label: 'warm-up latency p50 ms', get: (r) => r.warmupLatencyMs && r.warmupLatencyMs.p50, ratio: true, warm: true },
  { label: 'warm-up latency p99 ms', get: (r) => r.warmupLatencyMs && r.warmupLatencyMs.p99, ratio: true, warm: true },
  { label: 'warm-up latency max ms', get: (r) => r.warmupLatencyMs && r.warmupLatencyMs.max, ratio: true, warm: true },
  { label: 'broker CPU % (100 = 1 core)', get: (r) => r.broker && r.broker.cpuPct, ratio: true },
  { label: 'broker RSS peak MiB', get: (r) => r.broker && r.broker.rssMaxMiB, ratio: true },
  // CPU per message moves less than throughput when something else takes the CPU
  { label: 'broker CPU µs per delivered msg', get: (r) => (r.broker && r.broker.cpuPct && r.recvRate ? (r.broker.cpuPct * 1e4) / r.recvRate : null), ratio: true },
  { label: 'lost', get: (r) => r.lost, list: true, show: (v) => (v === null ? '?' : String(v)) },
  // QoS >= 1: the broker acknowledged the publish, no subscriber got it (counted even when the drain timed out)
  { label: 'not delivered (of expected)', get: (r) => (r.notDelivered == null ? null : `${r.notDelivered} of ${r.expected}`), list: true },
  { label: 'duplicates / reordered', get: (r) => (r.duplicates != null ? `${r.duplicates}/${r.reordered}` : r.dupOrReordered), list: true },
  { label: 'kept up (≥ 95 % of schedule)', get: (r) => r.keptUp, list: true, show: (v) => (v ? 'yes' : 'no'), fixedOnly: true },
  { label: 'drain', get: (r) => r.drain, list: true },
  { label: 'generator CPU %', get: (r) => r.generatorCpuPct },
  { label: 'host CPU % (of all cores)', get: (r) => r.hostCpuPct },
  { label: 'other load, % of a core ≈', get: (r) => otherLoad(r, 'pubsub') }
]

const CONN_ROWS = [
  { label: 'connRate conn/s', get: (r) => r.connRate, ratio: true },
  { label: 'handshake p50 ms', get: (r) => r.handshakeMs && r.handshakeMs.p50, ratio: true },
  { label: 'handshake p99 ms', get: (r) => r.handshakeMs && r.handshakeMs.p99, ratio: true },
  { label: 'bytes per connection (RSS)', get: (r) => r.broker && r.broker.bytesPerConn, ratio: true },
  { label: 'broker RSS before MiB', get: (r) => r.broker && r.broker.rssBeforeMiB },
  { label: 'broker RSS end of hold MiB', get: (r) => r.broker && r.broker.rssEndOfHoldMiB, ratio: true },
  { label: 'broker RSS peak MiB', get: (r) => r.broker && r.broker.rssMaxMiB },
  { label: 'broker RSS after disconnect MiB', get: (r) => r.broker && r.broker.rssAfterDisconnectMiB },
  { label: 'broker CPU % during connect', get: (r) => r.broker && r.broker.cpuPctDuringConnect, ratio: true },
  { label: 'connected', get: (r) => r.connected, list: true, show: fmtNum },
  { label: 'failed / dropped during hold', get: (r) => `${r.failed}/${r.droppedDuringHold}`, list: true },
  { label: 'generator CPU % (connect phase)', get: (r) => r.generatorCpuPct },
  { label: 'host CPU % (connect phase)', get: (r) => r.hostCpuPct },
  { label: 'other load, % of a core ≈', get: (r) => otherLoad(r, 'conn') }
]

// a numeric cell: the median, and (min–max) over several runs
function numCell (recs, get) {
  const vs = recs.map(okResult).filter(Boolean).map(get).filter((v) => typeof v === 'number')
  if (!vs.length) return { text: '–', med: null }
  const med = median(vs)
  const text = vs.length > 1 ? `${fmtNum(med)} (${fmtNum(Math.min(...vs))}–${fmtNum(Math.max(...vs))})` : fmtNum(med)
  return { text, med }
}

// a per-run cell: one value if every run agrees, else each run's value
function listCell (recs, get, show = String) {
  if (!recs.length) return '–'
  const vs = recs.map((rec) => (okResult(rec) ? show(get(rec.result)) : 'err'))
  return vs.every((v) => v === vs[0]) ? vs[0] : vs.join(' / ')
}

function ratioText (a, b) {
  if (a == null || b == null || b === 0) return '–'
  return (a / b).toFixed(2)
}

function metricTable (sc, recsFor) {
  const rows = sc.kind === 'conn' ? CONN_ROWS : PUBSUB_ROWS
  const header = ['metric', ...brokers, ...OTHERS.map((o) => `${BASE}/${o}`)]
  const body = []
  for (const row of rows) {
    if (row.fixedOnly && !sc.fixedRate) continue
    if (row.warm && !(sc.fixedRate && opts.warmup && !sc.ladder)) continue
    const label = row.little && sc.littleLatency ? `${row.label} ‡` : row.steady && sc.fixedRate && opts.warmup && !sc.ladder ? row.label.replace('latency', 'steady-state latency') : row.label
    if (row.list) {
      body.push([label, ...brokers.map((b) => listCell(recsFor(b), row.get, row.show)), ...OTHERS.map(() => '')])
      continue
    }
    const cells = Object.fromEntries(brokers.map((b) => [b, numCell(recsFor(b), row.get)]))
    body.push([label, ...brokers.map((b) => cells[b].text), ...OTHERS.map((o) => (row.ratio ? ratioText(cells[BASE].med, cells[o].med) : ''))])
  }
  body.push(['exit status', ...brokers.map((b) => recsFor(b).map((r) => r.exitCode ?? 'err').join(' / ') || '–'), ...OTHERS.map(() => '')])
  return mdTable(header, body)
}

function perRunLine (sc, recsFor) {
  const get = sc.kind === 'conn' ? (r) => r.connRate : (r) => r.recvRate
  const parts = brokers.map((b) => `${b} ${recsFor(b).map((rec) => (okResult(rec) ? fmtNum(get(rec.result)) : 'failed')).join(', ') || '–'}`)
  return `Per run (in run order), ${sc.kind === 'conn' ? 'connRate' : 'recvRate'}: ${parts.join('; ')}.`
}

function fanoutSection (sc) {
  const rates = opts.fanoutRates.filter((rate) => records.some((r) => primary(r) && r.scenario === sc.name && r.rate === rate))
  const best = {}
  const firstFail = {}
  for (const b of brokers) {
    for (const rate of rates) {
      const recs = recordsOf(sc.name, b, rate)
      if (!recs.length) continue
      if (sustained(recs)) best[b] = rate
      else if (firstFail[b] === undefined) firstFail[b] = rate
    }
  }
  const header = ['metric', ...brokers, ...OTHERS.map((o) => `${BASE}/${o}`)]
  const at = (b) => (best[b] !== undefined ? recordsOf(sc.name, b, best[b]) : [])
  const cell = (b, get) => numCell(at(b), get)
  const row = (label, get, ratio) => {
    const cs = Object.fromEntries(brokers.map((b) => [b, cell(b, get)]))
    return [label, ...brokers.map((b) => cs[b].text), ...OTHERS.map((o) => (ratio ? ratioText(cs[BASE].med, cs[o].med) : ''))]
  }
  const sustainedRate = Object.fromEntries(brokers.map((b) => [b, best[b] !== undefined ? best[b] * 1000 : null]))
  const satRecs = (b) => (firstFail[b] !== undefined ? recordsOf(sc.name, b, firstFail[b]) : [])
  const satCells = Object.fromEntries(brokers.map((b) => [b, numCell(satRecs(b), (r) => r.recvRate)]))
  const summary = mdTable(header, [
    ['highest sustained -r (publishes/s)', ...brokers.map((b) => (best[b] !== undefined ? String(best[b]) : `none of ${rates.join(', ') || '–'}`)), ...OTHERS.map(() => '')],
    ['sustained deliveries/s (scheduled)', ...brokers.map((b) => fmtNum(sustainedRate[b])), ...OTHERS.map((o) => ratioText(sustainedRate[BASE], sustainedRate[o]))],
    row('delivered msg/s at that rate', (r) => r.recvRate, true),
    row('latency p50 ms at that rate', (r) => r.latencyMs && r.latencyMs.p50, true),
    row('latency p99 ms at that rate', (r) => r.latencyMs && r.latencyMs.p99, true),
    row('broker CPU % at that rate', (r) => r.broker && r.broker.cpuPct, true),
    row('broker RSS peak MiB at that rate', (r) => r.broker && r.broker.rssMaxMiB, true),
    ['lost at that rate', ...brokers.map((b) => listCell(at(b), (r) => r.lost, (v) => (v === null ? '?' : String(v)))), ...OTHERS.map(() => '')],
    ['first rate not sustained', ...brokers.map((b) => (firstFail[b] !== undefined ? String(firstFail[b]) : 'none')), ...OTHERS.map(() => '')],
    ['delivered msg/s there (saturation)', ...brokers.map((b) => satCells[b].text), ...OTHERS.map((o) => ratioText(satCells[BASE].med, satCells[o].med))]
  ])
  const ladderRows = rates.map((rate) => [`-r ${rate} (${fmtNum(rate * 1000)}/s)`, ...brokers.map((b) => {
    const recs = recordsOf(sc.name, b, rate)
    if (!recs.length) return 'not run'
    return recs.map((rec) => {
      const r = okResult(rec)
      if (!r) return 'failed'
      const pct = r.scheduledRecvRate ? Math.floor(r.recvRate / r.scheduledRecvRate * 100) : null
      return `${fmtNum(r.recvRate)} (${pct}%) p99 ${fmtNum(r.latencyMs.p99)} ms, cpu ${fmtNum(r.broker && r.broker.cpuPct)} %, gen ${fmtNum(r.generatorCpuPct)} %${r.lost == null ? ', drain timeout' : ''}`
    }).join(' / ')
  })])
  const ladder = mdTable(['-r (scheduled deliveries)', ...brokers], ladderRows)
  return `${summary}\n\nEvery rate (delivered/s (% of schedule), p99, broker CPU, generator CPU):\n\n${ladder}`
}

function scenarioSection (sc) {
  const recs = records.filter((r) => primary(r) && r.scenario === sc.name)
  if (!recs.length) return null
  const recsFor = (b) => recordsOf(sc.name, b)
  const first = recs.find((r) => r.command)
  const cmd = first ? first.command.replace(/-p \d+ --pid \d+ --label \S+/, '-p $P --pid $PID --label <broker>') : null
  const lines = [`## ${sc.name}: ${sc.title}`, '', sc.about, '']
  if (cmd) lines.push('```sh', sc.ladder ? cmd.replace(/-r \d+/, '-r <R>') : cmd, '```', '')
  if (sc.ladder) {
    lines.push(`Rates tried: ${opts.fanoutRates.join(', ')} publishes/s, ${runsOf(sc)} run(s) per rate; a rate is sustained when every run kept up.`, '')
    lines.push(fanoutSection(sc))
  } else {
    lines.push(`${runsOf(sc)} run(s) per broker; median (min–max) over the runs.`, '')
    lines.push(metricTable(sc, recsFor), '', perRunLine(sc, recsFor))
    if (sc.littleLatency) lines.push('', '‡ Unlimited runs: latency is pending ÷ throughput (Little\'s law), set mostly by `--max-pending` and `--inflight`. Quote latency from pairs-fixed.')
    const scraped = recs.filter((r) => r.scrapes)
    if (scraped.length) {
      const sum = (k) => scraped.reduce((n, r) => n + r.scrapes[k], 0)
      lines.push('', `Scrapes of \`/api/v5/prometheus/stats\` during the vireo-metrics runs: ${sum('ok')} answered, ${sum('failed')} failed, slowest ${Math.max(...scraped.map((r) => r.scrapes.msMax))} ms, ${fmtNum(scraped[scraped.length - 1].scrapes.bytes)} bytes each${sum('failed') ? ` (failures: ${[...new Set(scraped.flatMap((r) => r.scrapes.errors || []))].slice(0, 3).join('; ')})` : ''}.`)
    }
  }
  const warns = new Map()
  for (const rec of recs) {
    const ws = [...((rec.result && rec.result.warnings) || []), ...(rec.error ? [rec.error] : []), ...(rec.brokerExited ? [`broker exited during the run (${rec.brokerExited})`] : [])]
    for (const w of ws) {
      const key = `${rec.broker}: ${w.replace(/\d[\d.]*/g, 'N')}`
      if (!warns.has(key)) warns.set(key, { broker: rec.broker, text: w, n: 0 })
      warns.get(key).n++
    }
  }
  if (warns.size) {
    lines.push('', 'Warnings:', '')
    for (const w of warns.values()) lines.push(`- ${w.broker}${w.n > 1 ? ` (${w.n} runs, first shown)` : ''}: ${w.text}`)
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------
// report

let started = null
let reportBase = null
let meta = null

function collectMeta () {
  const generators = opts.generators.map((g) => {
    let version = null
    try { version = /(?:TOOL_VERSION = |toolVersion: )'([^']+)'/.exec(fs.readFileSync(g.name === 'ours' ? path.join(ROOT, 'scripts/loadgen/run-pubsub.mjs') : g.path, 'utf8'))[1] } catch {}
    return { name: g.name, path: g.path, version }
  })
  let nofile = null
  try { nofile = execFileSync('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; ulimit -n'], { encoding: 'utf8' }).trim() } catch {}
  const cpus = os.cpus()
  return {
    started: started.toISOString(),
    host: os.hostname(),
    cpu: `${cpus.length} × ${cpus[0] ? cpus[0].model.trim() : '?'}`,
    memoryMiB: Math.round(os.totalmem() / 1048576),
    kernel: os.release(),
    node: process.version,
    generator: generators[0],
    generators,
    brokers: Object.fromEntries(brokers.map((b) => [b, versionOf(b)])),
    skipped,
    openFilesLimit: nofile,
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100)
  }
}

function reportMarkdown (partial) {
  const out = [`# Vireo benchmark, ${meta.started}${partial ? ' (interrupted: partial)' : ''}`, '']
  out.push(mdTable(['', ''], [
    ['machine', `${meta.cpu}, ${fmtNum(meta.memoryMiB)} MiB, kernel ${meta.kernel}`],
    ['node', meta.node],
    ...brokers.map((b) => [b, meta.brokers[b] || '?']),
    ...Object.entries(skipped).map(([b, why]) => [b, `skipped: ${why}`]),
    ...(brokers.includes('mosquitto') ? [['mosquitto.conf', mosquittoConf('$P').trim().split('\n').join('; ')]] : []),
    ...meta.generators.map((g, i) => [i ? 'compared with' : 'generator', `${g.name === 'ours' ? 'vireo-loadgen' : 'mqtt-bench'} ${g.version || '?'} (${path.relative(ROOT, g.path)})`]),
    ['open files (children)', meta.openFilesLimit || '?'],
    ['options', `duration ${opts.duration} s${opts.warmup ? ` (+ ${opts.warmup} s warm-up in fixed-rate runs)` : ''}, queue ${opts.queue ? opts.queue : 'brokers\' defaults'}, runs ${opts.runs ?? 'per scenario'}, conn ${fmtNum(opts.conns)} held ${opts.hold} s, fanout rates ${opts.fanoutRates.join(',')}`],
    ['load average at start', meta.loadavgAtStart.join(' ')]
  ]))
  out.push('', 'Fresh broker process per run, loopback, one generator process, MQTT 3.1.1, 64 B payloads; brokers alternate between repetitions; Vireo with its default settings. ' +
    (OTHERS.length ? `Ratios are ${BASE} ÷ other: above 1 is better for rates, below 1 is better for latency, CPU and memory. ` : '') +
    'CPU is % of one core. "other load" is host CPU minus broker and generator: CPU taken by something else on the machine during the window. ' +
    'On a small shared machine runs spread by 5–15 %: see docs/performance.md before quoting a figure.' +
    (meta.generator.name !== 'ours' && meta.generator.version && meta.generator.version !== '1.0.0' ? ` ANCHORS.md used mqtt-bench 1.0.0; from 1.1.0 the latency of unlimited runs counts only the window, so it is not comparable with the anchors (throughput is).` : ''))
  for (const sc of scenarios) {
    const s = scenarioSection(sc)
    if (s) out.push('', s)
    const c = compareSection(sc, records, opts.generators, brokers, { fmtNum, median, mdTable })
    if (c) out.push('', c)
  }
  return out.join('\n') + '\n'
}

function writeReport (partial = false) {
  fs.mkdirSync(opts.out, { recursive: true })
  fs.writeFileSync(`${reportBase}.md`, reportMarkdown(partial))
  fs.writeFileSync(`${reportBase}.json`, JSON.stringify({ meta, partial, options: { ...opts, scenarios: scenarios.map((s) => s.name), brokers }, runs: records }, null, 2) + '\n')
}

// ---------------------------------------------------------------------------
// main

async function main () {
  started = new Date()
  meta = collectMeta()
  reportBase = path.join(opts.out, started.toISOString().slice(0, 19).replace(/:/g, '-') + 'Z')

  const plan = scenarios.map((sc) => `${sc.name}${sc.ladder ? ` (rates ${opts.fanoutRates.join(',')})` : ''} × ${runsOf(sc)}`).join(', ')
  say(`brokers: ${brokers.join(', ')}; scenarios: ${plan}; ${opts.duration} s per pub/sub run`)
  if (opts.dryRun) {
    for (const sc of scenarios) {
      for (const rate of sc.ladder ? opts.fanoutRates : [undefined]) {
        say(`${sc.name}: node ${opts.generators.map((g) => g.display).join(' | ')} ${sc.args(rate).map((a) => /[^\w./:,=-]/.test(a) ? `'${a}'` : a).join(' ')} -p $P --pid $PID --label <broker>`)
      }
    }
    return
  }
  const la = os.loadavg()[0]
  if (la > 0.5) warn(`load average ${la.toFixed(2)} before the first run: something else is using the CPU, figures will be noisy`)
  if (scenarios.some((s) => s.kind === 'conn') && Number(meta.openFilesLimit) < opts.conns + 100) {
    warn(`open-files limit ${meta.openFilesLimit} is below ${opts.conns} connections + margin: expect failed connections (raise the hard limit, ulimit -Hn)`)
  }
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'vireo-bench-'))
  if (opts.keep) say(`broker configs, logs and data dirs: ${tmpRoot}`)

  for (const sc of scenarios) {
    await runScenario(sc)
    if (interrupted) return // onSignal writes the partial report and exits
    const section = scenarioSection(sc)
    if (section) process.stdout.write(`\n${section}\n\n`)
    const cmp = compareSection(sc, records, opts.generators, brokers, { fmtNum, median, mdTable })
    if (cmp) process.stdout.write(`${cmp}\n\n`)
    writeReport(false)
  }
  writeReport(false)
  say(`wrote ${path.relative(process.cwd(), reportBase)}.md and .json`)
  const failed = records.filter((r) => r.error || r.brokerExited)
  if (failed.length) {
    warn(`${failed.length} run(s) failed: see the warnings above and "error"/"brokerLog" in the JSON`)
    process.exitCode = 1
  }
}

main().catch(async (err) => {
  process.stderr.write(`bench: ${err && err.stack ? err.stack : err}\n`)
  await Promise.all([...children].map((c) => stop(c, 1500)))
  try { if (meta) writeReport(true) } catch {}
  process.exit(1)
})

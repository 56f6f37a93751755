#!/usr/bin/env node
// node scripts/profile/run.mjs <pairs-fixed|fanin|connect-burst|pairs-q0|pairs-q1> [--duration S] [--generator PATH] [--out DIR]
//
// Profiles one Vireo node (default settings, fresh data dir) under one load: starts it with
// `node --cpu-prof` and the event-loop monitor (eventloop-monitor.mjs), runs the load
// generator against it, stops it with SIGTERM (the profile is written on exit) and prints
// where the time went (cpuprofile-summary.mjs) and the event-loop delay per second.
// Read-only on the broker: nothing in packages/ changes. See docs/performance.md.
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')
const args = process.argv.slice(2)
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def }
const scenario = args[0]
const duration = Number(opt('duration', '15'))
const shared = path.resolve(ROOT, '../shared/bench/mqtt-bench.mjs')
const generator = path.resolve(opt('generator', fs.existsSync(shared) ? shared : path.join(ROOT, 'scripts/loadgen/cli.mjs')))
const out = path.resolve(opt('out', fs.mkdtempSync(path.join(os.tmpdir(), 'vireo-profile-'))))
fs.mkdirSync(out, { recursive: true })
const LOADS = {
  'pairs-fixed': ['pairs', '-n', '100', '-r', '50', '-q', '1', '-d', String(duration), '--warmup', '5'],
  fanin: ['fanin', '--pubs', '1000', '-r', '10', '--subs', '1', '--sub-topic', 'bench/#', '-q', '1', '-d', String(duration), '--warmup', '5'],
  'connect-burst': ['conn', '-c', '200', '--concurrency', '200', '--hold', '3'],
  'pairs-q0': ['pairs', '-n', '100', '-q', '0', '-d', String(duration)],
  'pairs-q1': ['pairs', '-n', '100', '-q', '1', '-d', String(duration)]
}
if (!LOADS[scenario]) { process.stderr.write(`usage: run.mjs <${Object.keys(LOADS).join('|')}> [--duration S] [--generator PATH] [--out DIR]\n`); process.exit(2) }

const freePort = () => new Promise((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const port = await freePort()
fs.mkdirSync(path.join(out, 'data'), { recursive: true })
const eld = path.join(out, 'eventloop.jsonl')
fs.rmSync(eld, { force: true })
const env = {
  ...process.env,
  VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
  VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
  VIREO_DASHBOARD__LISTENERS__HTTP__BIND: '0',
  VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${await freePort()}`,
  VIREO_LOG__LEVEL: 'warning',
  VIREO_NODE__DATA_DIR: path.join(out, 'data'),
  PROFILE_ELD_OUT: eld
}
const tSpawn = Date.now()
const vireo = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${out}`, '--import', path.join(HERE, 'eventloop-monitor.mjs'), path.join(ROOT, 'packages/server/dist/cli.js'), 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
const exited = new Promise((resolve) => vireo.once('exit', resolve))
process.on('exit', () => vireo.kill('SIGKILL'))
for (let i = 0; ; i++) {
  const ok = await new Promise((resolve) => { const s = net.connect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); resolve(true) }); s.once('error', () => resolve(false)) })
  if (ok) break
  if (i > 300 || vireo.exitCode !== null) throw new Error('vireo did not start')
  await sleep(100)
}
// the node goes on starting after its listener accepts (API, cluster, store): wait for a quiet
// second of its event loop (at most 15 s) so that start-up is not charged to the load
const eldLines = () => (fs.existsSync(eld) ? fs.readFileSync(eld, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [])
for (const until = Date.now() + 15000; Date.now() < until;) {
  const last = eldLines().at(-1)
  if (last && last.maxMs < 50 && last.elu < 0.2) break
  await sleep(200)
}
const tLoad = eldLines().length
const loadFrom = (Date.now() - tSpawn) / 1000
process.stderr.write(`[profile] vireo pid ${vireo.pid} on ${port}; load: ${path.basename(generator)} ${LOADS[scenario].join(' ')}\n`)
let result = ''
try {
  result = execFileSync(process.execPath, [generator, ...LOADS[scenario], '-p', String(port), '--pid', String(vireo.pid), '--quiet'], { encoding: 'utf8', maxBuffer: 1 << 24 })
} catch (err) {
  result = String(err.stdout || '')
}
vireo.kill('SIGTERM')
await exited
fs.writeFileSync(path.join(out, 'result.json'), result)
// the node's main thread: CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile (worker threads are .1., .2. …)
const prof = fs.readdirSync(out).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${vireo.pid}.0.`)).map((f) => path.join(out, f))[0]
process.stdout.write(`# ${scenario}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; files in ${out}\n\n`)
try {
  const r = JSON.parse(result.trim().split('\n').pop())
  process.stdout.write(`generator: ${JSON.stringify({ recvRate: r.recvRate, latencyMs: r.latencyMs, warmupLatencyMs: r.warmupLatencyMs, notDelivered: r.notDelivered, connRate: r.connRate, handshakeMs: r.handshakeMs, broker: r.broker })}\n\n`)
} catch { process.stdout.write(`generator output: ${result.slice(0, 500)}\n\n`) }
const lines = eldLines()
process.stdout.write('event-loop delay per second during the load (max / p99 / mean ms, utilization):\n')
for (const l of lines.slice(tLoad)) process.stdout.write(`  t=${l.t}s  max ${l.maxMs}  p99 ${l.p99Ms}  mean ${l.meanMs}  elu ${l.elu}\n`)
process.stdout.write('\n')
if (prof) process.stdout.write(execFileSync(process.execPath, [path.join(HERE, 'cpuprofile-summary.mjs'), prof, '--top', '25', '--from', loadFrom.toFixed(1)], { encoding: 'utf8' }))
else process.stdout.write('no .cpuprofile written (did the node exit cleanly?)\n')

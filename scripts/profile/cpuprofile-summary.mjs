#!/usr/bin/env node
// node scripts/profile/cpuprofile-summary.mjs FILE.cpuprofile [--top N] [--from S] [--to S]: where a V8 CPU
// profile (node --cpu-prof) spent its time — self time by category (idle, GC, Vireo's
// packages, node internals, dependencies) and the top functions by self time, in % of the
// busy (non-idle) time. --from S leaves out the first S seconds (start-up), --to S what
// comes after S seconds.
import fs from 'node:fs'
import path from 'node:path'

const file = process.argv[2]
if (!file) { process.stderr.write('usage: cpuprofile-summary.mjs FILE.cpuprofile [--top N]\n'); process.exit(2) }
const argOf = (name) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : undefined)
const top = argOf('--top') || 30
const fromUs = (argOf('--from') || 0) * 1e6
const toUs = argOf('--to') === undefined ? Infinity : argOf('--to') * 1e6
const prof = JSON.parse(fs.readFileSync(file, 'utf8'))
const byId = new Map(prof.nodes.map((n) => [n.id, n]))
const self = new Map() // node id -> µs
const dt = prof.timeDeltas
let at = 0
for (let i = 0; i < prof.samples.length; i++) {
  at += dt[i] || 0
  if (at < fromUs || at > toUs) continue
  self.set(prof.samples[i], (self.get(prof.samples[i]) || 0) + (dt[i] || 0))
}

function category (cf) {
  const u = cf.url || ''
  if (cf.functionName === '(idle)') return 'idle'
  if (cf.functionName === '(garbage collector)') return 'garbage collector'
  if (cf.functionName === '(program)') return 'program (native, outside JS)'
  const m = /packages\/([^/]+)\//.exec(u)
  if (m && !u.includes('node_modules')) return `vireo: ${m[1]}`
  if (u.startsWith('node:')) return `node: ${u.slice(5).split('/')[0]}`
  const d = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)
  if (d) return `dep: ${d[1]}`
  if (!u) return `native: ${cf.functionName || '(anonymous)'}`
  return u
}

const cats = new Map()
const funcs = new Map()
let total = 0
let idle = 0
for (const [id, us] of self) {
  const n = byId.get(id)
  const cf = n.callFrame
  const c = category(cf)
  total += us
  if (c === 'idle') { idle += us; continue }
  cats.set(c, (cats.get(c) || 0) + us)
  const key = `${cf.functionName || '(anonymous)'}  ${cf.url ? path.basename(cf.url) + ':' + (cf.lineNumber + 1) : ''}`
  funcs.set(key, (funcs.get(key) || 0) + us)
}
const busy = total - idle
const pct = (us) => (busy ? ((us / busy) * 100).toFixed(1).padStart(5) : '  -  ')
process.stdout.write(`${path.basename(file)}: ${(total / 1e6).toFixed(1)} s profiled${fromUs ? ` (from ${fromUs / 1e6} s on)` : ''}${toUs < Infinity ? ` (to ${toUs / 1e6} s)` : ''}, busy ${(busy / 1e6).toFixed(1)} s (${((busy / total) * 100).toFixed(0)} %)\n\nself time by category (% of busy):\n`)
for (const [c, us] of [...cats].sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stdout.write(`  ${pct(us)}  ${c}\n`)
// inclusive time of Vireo's own functions (a function's samples and its callees'), once per stack
const incl = new Map()
const parent = new Map()
for (const n of prof.nodes) for (const c of n.children || []) parent.set(c, n.id)
for (const [id, us] of self) {
  const seen = new Set()
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const cf = byId.get(cur).callFrame
    if (!/packages\/[^/]+\/dist\//.test(cf.url || '') || (cf.url || '').includes('node_modules')) continue
    const key = `${cf.functionName || '(anonymous)'}  ${path.basename(cf.url)}:${cf.lineNumber + 1}`
    if (seen.has(key)) continue
    seen.add(key)
    incl.set(key, (incl.get(key) || 0) + us)
  }
}
process.stdout.write(`\ntop ${top} Vireo functions by inclusive time (% of busy):\n`)
for (const [f, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(us)}  ${f}\n`)
process.stdout.write(`\ntop ${top} functions by self time (% of busy):\n`)
for (const [f, us] of [...funcs].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(us)}  ${f}\n`)

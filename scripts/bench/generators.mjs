// Which load generator(s) npm run bench drives, and the table that shows whether two
// generators agree on the same runs (--compare-generators). Both take the same options
// and print the same JSON fields (see scripts/loadgen/cli.mjs).

import fs from 'node:fs'
import path from 'node:path'

/**
 * @param {string} root      the repository
 * @param {string|undefined} choice  --generator: shared, ours or a path
 * @param {boolean} compare  --compare-generators
 * @returns {{generators: {name: string, path: string, display: string}[]}}
 */
export function resolveGenerators (root, choice, compare, fail) {
  const shared = { name: 'shared', path: path.resolve(process.env.MQTT_BENCH || path.resolve(root, '../shared/bench/mqtt-bench.mjs')) }
  shared.display = path.basename(shared.path)
  const ours = { name: 'ours', path: path.join(root, 'scripts/loadgen/cli.mjs'), display: 'scripts/loadgen/cli.mjs' }
  if (compare) {
    if (choice && choice !== 'shared' && choice !== 'ours') return { generators: [{ name: 'other', path: path.resolve(choice), display: choice }, ours] }
    if (!fs.existsSync(shared.path)) fail(`--compare-generators needs the neutral generator: ${shared.path} not found (set MQTT_BENCH or --generator PATH)`)
    return { generators: [shared, ours] }
  }
  if (choice === 'shared') return { generators: [shared] }
  if (choice === 'ours') return { generators: [ours] }
  if (choice) return { generators: [{ name: 'other', path: path.resolve(choice), display: choice }] }
  return { generators: [fs.existsSync(shared.path) ? shared : ours] }
}

const ROWS = [
  { label: 'delivered msg/s', get: (r) => r.recvRate },
  { label: 'latency p50 ms', get: (r) => r.latencyMs && r.latencyMs.p50 },
  { label: 'latency p99 ms', get: (r) => r.latencyMs && r.latencyMs.p99 },
  { label: 'warm-up latency p99 ms', get: (r) => r.warmupLatencyMs && r.warmupLatencyMs.p99 },
  { label: 'broker CPU %', get: (r) => r.broker && r.broker.cpuPct },
  { label: 'broker CPU µs per delivered msg', get: (r) => (r.broker && r.broker.cpuPct && r.recvRate ? (r.broker.cpuPct * 1e4) / r.recvRate : null) },
  { label: 'not delivered', get: (r) => r.notDelivered },
  { label: 'generator CPU %', get: (r) => r.generatorCpuPct }
]

const CONN_ROWS = [
  { label: 'connRate conn/s', get: (r) => r.connRate },
  { label: 'handshake p50 ms', get: (r) => r.handshakeMs && r.handshakeMs.p50 },
  { label: 'handshake p99 ms', get: (r) => r.handshakeMs && r.handshakeMs.p99 },
  { label: 'bytes per connection', get: (r) => r.broker && r.broker.bytesPerConn },
  { label: 'generator CPU %', get: (r) => r.generatorCpuPct }
]

/**
 * One table per scenario: per broker (and fanout rate), the median of each figure under each
 * generator and the ratio second ÷ first. Pairs of runs alternate, a fresh broker each.
 */
export function compareSection (sc, records, generators, brokers, { fmtNum, median, mdTable }) {
  if (generators.length < 2) return null
  const [a, b] = generators
  const recs = records.filter((r) => r.scenario === sc.name && r.result && !r.result.error)
  if (!recs.length) return null
  const rows = sc.kind === 'conn' ? CONN_ROWS : ROWS
  const body = []
  const rates = [...new Set(recs.map((r) => r.rate))]
  for (const broker of brokers) {
    for (const rate of rates) {
      const of = (g) => recs.filter((r) => r.broker === broker && r.rate === rate && r.generator === g.name).map((r) => r.result)
      const ra = of(a)
      const rb = of(b)
      if (!ra.length || !rb.length) continue
      for (const row of rows) {
        const va = median(ra.map(row.get))
        const vb = median(rb.map(row.get))
        if (va == null && vb == null) continue
        const ratio = va && vb != null ? (vb / va).toFixed(2) : '–'
        body.push([`${broker}${rate != null ? ` -r ${rate}` : ''}`, row.label, `${fmtNum(va)} (${ra.length})`, `${fmtNum(vb)} (${rb.length})`, ratio])
      }
    }
  }
  if (!body.length) return null
  return [`### ${sc.name}: ${a.name} vs ${b.name} generator (same brokers, alternating runs)`, '',
    mdTable(['broker', 'figure', `${a.name} (runs)`, `${b.name} (runs)`, `${b.name} ÷ ${a.name}`], body)].join('\n')
}

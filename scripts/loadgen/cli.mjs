#!/usr/bin/env node
// Vireo's own MQTT load generator: node scripts/loadgen/cli.mjs <scenario> [options].
// One JSON line on stdout, progress on stderr. See docs/performance.md ("Load generators").
//
// The clients are raw node:net sockets with a hand-written codec (codec.mjs), not mqtt.js:
// a publish is one Buffer copy and a few integer writes, an unlimited publisher writes 64 of
// them per syscall, and the acks of one read go out in one write. mqtt.js builds an object
// and a stream chunk per packet, which makes the generator the bottleneck before the broker.
// The clients run in worker processes (--workers); this process only coordinates and samples.

import { parseArgs, USAGE, UsageError } from './args.mjs'
import { WorkerHandle } from './workers.mjs'
import { runPubSub } from './run-pubsub.mjs'
import { runConn } from './run-conn.mjs'

async function main () {
  let cfg
  try {
    cfg = parseArgs(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`loadgen: ${err.message}\n\n${USAGE}`)
    process.exit(2)
  }
  if (!cfg) { process.stdout.write(USAGE); process.exit(0) }
  cfg.runId = Math.random().toString(36).slice(2, 8)
  const log = (msg) => { if (!cfg.quiet) process.stderr.write(`[loadgen] ${msg}\n`) }
  const handles = []
  for (let w = 0; w < cfg.workers; w++) handles.push(new WorkerHandle(w))
  const killAll = () => { for (const h of handles) h.kill() }
  process.once('SIGINT', () => { killAll(); process.exit(130) })
  process.once('SIGTERM', () => { killAll(); process.exit(143) })
  let result
  try {
    result = cfg.scenario === 'conn' ? await runConn(cfg, handles, log) : await runPubSub(cfg, handles, log)
  } catch (err) {
    process.stderr.write(`[loadgen] ${err.message}\n`)
    process.stdout.write(JSON.stringify({ tool: 'vireo-loadgen', scenario: cfg.scenario, label: cfg.label, error: err.message }) + '\n')
    killAll()
    process.exit(1)
  }
  await Promise.all(handles.map((h) => h.close()))
  for (const w of result.out.warnings) process.stderr.write(`[loadgen] warning: ${w}\n`)
  process.stdout.write(JSON.stringify(result.out) + '\n')
  process.exitCode = result.exit
}

main().catch((err) => {
  process.stderr.write(`loadgen: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})

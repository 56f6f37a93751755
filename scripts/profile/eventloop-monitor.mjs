// Preloaded into a node process (node --import ./scripts/profile/eventloop-monitor.mjs …):
// every second, appends one JSON line to $PROFILE_ELD_OUT with the event loop's delay over that
// second (max, p99, mean, in ms) and its utilization. Read-only: it changes nothing in the
// program it watches. Used by scripts/profile/run.mjs.
import fs from 'node:fs'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { isMainThread } from 'node:worker_threads'

const out = process.env.PROFILE_ELD_OUT
// the main thread only: worker threads (the store's writer) get the preload too
if (out && isMainThread) {
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  let elu = performance.eventLoopUtilization()
  const t0 = Date.now()
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization()
    const line = {
      t: Math.round((Date.now() - t0) / 100) / 10,
      maxMs: Math.round(h.max / 1e4) / 100,
      p99Ms: Math.round(h.percentile(99) / 1e4) / 100,
      meanMs: Math.round(h.mean / 1e4) / 100,
      elu: Math.round(performance.eventLoopUtilization(now, elu).utilization * 1000) / 1000
    }
    elu = now
    h.reset()
    fs.appendFileSync(out, JSON.stringify(line) + '\n')
  }, 1000)
  timer.unref()
}

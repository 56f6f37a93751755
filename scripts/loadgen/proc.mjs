// CPU and memory of a process and of the host, from /proc (Linux).

import fs from 'node:fs'
import os from 'node:os'
import { nowMs } from './plan.mjs'

const TICK = 100 // USER_HZ: clock ticks per second of /proc/PID/stat on Linux

/** utime + stime (ms) and VmRSS (KiB) of a process, or null if it cannot be read */
export function procSample (pid) {
  if (!pid) return null
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name, which may contain spaces: ") S ppid ..." -> utime is field 14
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpuMs = ((Number(f[11]) + Number(f[12])) * 1000) / TICK
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return { t: nowMs(), cpuMs, rssKiB: m ? Number(m[1]) : null }
  } catch {
    return null
  }
}

/** busy and total jiffies of all cores */
export function hostSample () {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]
    const v = line.trim().split(/\s+/).slice(1).map(Number)
    const idle = v[3] + (v[4] || 0)
    const total = v.reduce((a, b) => a + b, 0)
    return { busy: total - idle, total }
  } catch {
    return null
  }
}

const round = (x, d = 1) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d)

/** % of one core between two samples */
export const cpuPct = (a, b) => (a && b && b.t > a.t ? round(((b.cpuMs - a.cpuMs) / (b.t - a.t)) * 100) : null)
/** % of all cores busy between two samples */
export const hostPct = (a, b) => (a && b && b.total > a.total ? round(((b.busy - a.busy) / (b.total - a.total)) * 100) : null)
export const mib = (kib) => (kib == null ? null : round(kib / 1024, 1))
export const cores = () => os.cpus().length

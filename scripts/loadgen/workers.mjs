// The coordinator's side of the worker processes: fork them, send to them, wait for their messages.

import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url))

export class WorkerHandle {
  constructor (w) {
    this.w = w
    this.progress = null
    this.queues = new Map() // message type -> messages not yet awaited
    this.waiters = new Map() // message type -> resolve
    this.failure = null
    this.child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (m) => this.onMessage(m))
    this.child.on('exit', (code, sig) => {
      if (!this.closed) this.fail(new Error(`worker ${w} exited (${code ?? sig})`))
    })
  }

  onMessage (m) {
    if (m.t === 'progress') { this.progress = m; return }
    if (m.t === 'error') { this.fail(new Error(`worker ${this.w}: ${m.message}`)); return }
    const waiter = this.waiters.get(m.t)
    if (waiter) { this.waiters.delete(m.t); waiter.resolve(m); return }
    if (!this.queues.has(m.t)) this.queues.set(m.t, [])
    this.queues.get(m.t).push(m)
  }

  fail (err) {
    this.failure = err
    for (const w of this.waiters.values()) w.reject(err)
    this.waiters.clear()
  }

  send (m) { if (this.child.connected) this.child.send(m) }

  wait (type) {
    const q = this.queues.get(type)
    if (q && q.length) return Promise.resolve(q.shift())
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => this.waiters.set(type, { resolve, reject }))
  }

  async close () {
    this.closed = true
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.send({ t: 'close' })
    const t = setTimeout(() => this.child.kill('SIGKILL'), 8000)
    await exited
    clearTimeout(t)
  }

  kill () { this.closed = true; try { this.child.kill('SIGKILL') } catch {} }
}

export function withTimeout (p, ms, what) {
  let t
  return Promise.race([p, new Promise((resolve, reject) => { t = setTimeout(() => reject(new Error(`timeout ${Math.round(ms / 1000)} s ${what}`)), ms) })]).finally(() => clearTimeout(t))
}

// A generator worker process, forked by the coordinator; talks to it over the IPC channel.

import { PubSubWorker } from './pubsub-worker.mjs'
import { ConnWorker } from './conn-worker.mjs'

let worker = null
const send = (m) => { if (process.connected) process.send(m) }

process.on('message', async (m) => {
  try {
    if (m.t === 'setup') {
      worker = m.cfg.scenario === 'conn' ? new ConnWorker(m.cfg, m.w, send) : new PubSubWorker(m.cfg, m.w, send)
      await worker.setup()
      send({ t: 'ready' })
    } else if (m.t === 'start') worker.start(m.startAt, m.drainDeadline)
    else if (m.t === 'expect') await worker.expect(m.table)
    else if (m.t === 'finish') await worker.finish()
    else if (m.t === 'close') {
      if (worker) await worker.close()
      send({ t: 'closed' })
      process.disconnect()
    }
  } catch (err) {
    send({ t: 'error', message: err && err.message ? err.message : String(err) })
  }
})

// the coordinator went away: nothing to report to, stop
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref())

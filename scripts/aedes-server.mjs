// Aedes with default options on 127.0.0.1:<port>, as a separate process for scripts/bench.mjs.
// The same server as the anchor figures (/work/shared/bench/ANCHORS.md): aedes + net.createServer.
//
//   node scripts/aedes-server.mjs <port> [host]
//
// Logs nothing per connection; counts client errors and prints the count on exit.
import { createServer } from 'node:net'
import { Aedes } from 'aedes'

const port = Number(process.argv[2])
const host = process.argv[3] || '127.0.0.1'
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: node scripts/aedes-server.mjs <port> [host]\n')
  process.exit(2)
}

const aedes = await Aedes.createBroker()
let clientErrors = 0
let firstError = null
aedes.on('clientError', (_client, err) => {
  clientErrors++
  firstError ??= err && err.message
})

const server = createServer(aedes.handle)
server.on('error', (err) => {
  process.stderr.write(`aedes-server: ${err.message}\n`)
  process.exit(1)
})
server.listen(port, host, () => {
  process.stderr.write(`aedes-server: aedes listening on ${host}:${port} (pid ${process.pid})\n`)
})

let closing = false
function shutdown (signal) {
  if (closing) return
  closing = true
  process.stderr.write(`aedes-server: ${signal}, ${clientErrors} client error(s)${firstError ? ` (first: ${firstError})` : ''}\n`)
  // do not wait for thousands of sockets to close gracefully
  setTimeout(() => process.exit(0), 1000).unref()
  server.close()
  aedes.close(() => process.exit(0))
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))

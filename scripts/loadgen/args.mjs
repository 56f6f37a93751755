// Command line of the load generator. The option names are those of the neutral generator
// the project benchmarks with, so that scripts/bench.mjs can run either with the same arguments.

export const USAGE = `usage: node scripts/loadgen/cli.mjs <scenario> [options]

scenarios
  pairs     N publishers and N subscribers; pair i uses topic bench/i   (-n N)
  fanout    1 publisher on bench/0, S subscribers on bench/0             (--subs S)
  fanin     P publishers on bench/<i>, S subscribers on bench/#          (--pubs P --subs S)
  conn      open N connections, hold them; connect rate, handshake time, broker RSS per connection

connection
  -h, --host HOST         broker host (default 127.0.0.1)
  -p, --port PORT         broker port (default 1883)
  --pub-ports LIST        publishers connect to these ports, round robin by index (cross-node runs)
  --sub-ports LIST        subscribers likewise (default: -p for both)
  -u, --username USER     -P, --password PASS
  -V, --version 4|5       MQTT 3.1.1 (4, default) or 5.0
  --clean | --no-clean    clean session / clean start (default clean); --session-expiry S (v5)
  -k, --keepalive S       keepalive seconds (default 60)
  --local-addresses LIST  source addresses: 127.0.0.2-127.0.0.20 or a,b,c
  --connect-timeout S     CONNECT -> CONNACK bound per connection (default 10)
  --concurrency N         handshakes in flight at once (default 100)

messages (pairs, fanout, fanin)
  -q, --qos 0|1|2         publish QoS (default 0); --sub-qos 0|1|2 (default: -q)
  -s, --size BYTES        payload bytes, >= 16 (default 64)
  -r, --rate R            msg/s per publisher, open loop; 0 = as fast as possible (default 0)
  -d, --duration S        publishing time (default 10)
  --warmup S              deliveries in the first S s of -d go to warmupLatencyMs, not latencyMs
  --inflight N            unacknowledged QoS 1/2 publishes per publisher (default 32; v5: at most
                          the broker's Receive Maximum)
  --max-pending N         -r 0 only: messages a publisher may be ahead of its subscribers in the
                          same worker (default 100; 0 = no end-to-end window)
  -n, --pairs N           pairs (default 10)    --pubs P (fanin, default 10)    --subs S
  --topic-prefix T        publisher i publishes to T/i (default bench)
  --sub-topic FILTER      subscription filter (fanin default T/#; %i = subscriber index)
  --retain                set RETAIN
  --drain S               after -d, at most S s in all for acks, then deliveries (default 5)

conn
  -c, --count N           connections (default 1000)
  -r, --rate R            connections/s, 0 = as fast as --concurrency allows (default 0)
  --hold S                seconds to hold them (default 10)

measurement
  --pid PID               broker PID: CPU from /proc/PID/stat (utime+stime), RSS from /proc/PID/status
  --workers N             generator processes (default 1); client i runs in worker i mod N
  --label TEXT            copied into the JSON result
  --setup-timeout S       bound on connecting and subscribing (default 300)
  --quiet                 no progress on stderr
  --help

One JSON line on stdout. Exit status: 0 ok; 1 run failed; 2 usage; 3 QoS >= 1 loss, failed or
dropped connections; 4 --drain expired with QoS >= 1 messages unacknowledged or undelivered.
`

export class UsageError extends Error {}

export function parseAddresses (spec) {
  const out = []
  for (const part of String(spec).split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+\.\d+\.\d+\.)(\d+)-(\d+\.\d+\.\d+\.)?(\d+)$/.exec(part)
    if (m) {
      if (m[3] && m[3] !== m[1]) throw new UsageError(`--local-addresses: a range must stay in one /24: ${part}`)
      const a = Number(m[2])
      const b = Number(m[4])
      if (a > b || b > 255) throw new UsageError(`--local-addresses: bad range ${part}`)
      for (let i = a; i <= b; i++) out.push(m[1] + i)
    } else if (/^[\d.]+$|:/.test(part)) out.push(part)
    else throw new UsageError(`--local-addresses: not an address: ${part}`)
  }
  return out
}

const num = (key, v, { min = -Infinity, max = Infinity, int = true } = {}) => {
  const n = Number(v)
  if (v === undefined || v === '' || !Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min || n > max) {
    throw new UsageError(`${key}: expected ${int ? 'an integer' : 'a number'}${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` <= ${max}` : ''}, got ${JSON.stringify(v)}`)
  }
  return n
}

const str = (key, v) => String(v)

const ports = (key, v) => {
  const list = String(v ?? '').split(',').map((x) => x.trim()).filter(Boolean).map(Number)
  if (!list.length || list.some((x) => !Number.isInteger(x) || x < 1 || x > 65535)) throw new UsageError(`${key}: expected a comma-separated list of ports`)
  return list
}

// option -> [field, parser]; a parser of null means a flag
const OPTIONS = {
  '-h': ['host', str], '--host': ['host', str],
  '-p': ['port', (k, v) => num(k, v, { min: 1, max: 65535 })], '--port': ['port', (k, v) => num(k, v, { min: 1, max: 65535 })],
  '-u': ['username', str], '--username': ['username', str],
  '-P': ['password', str], '--password': ['password', str],
  '-V': ['version', (k, v) => { if (['4', '3.1.1', '311'].includes(v)) return 4; if (['5', '5.0'].includes(v)) return 5; throw new UsageError(`${k}: expected 4 or 5, got ${JSON.stringify(v)}`) }],
  '--session-expiry': ['sessionExpiry', (k, v) => num(k, v, { min: 0, max: 4294967295 })],
  '-k': ['keepalive', (k, v) => num(k, v, { min: 0, max: 65535 })], '--keepalive': ['keepalive', (k, v) => num(k, v, { min: 0, max: 65535 })],
  '--local-addresses': ['localAddresses', (k, v) => parseAddresses(v)],
  '--connect-timeout': ['connectTimeout', (k, v) => num(k, v, { min: 0.1, int: false })],
  '--concurrency': ['concurrency', (k, v) => num(k, v, { min: 1 })],
  '--pub-ports': ['pubPorts', ports], '--sub-ports': ['subPorts', ports],
  '-q': ['qos', (k, v) => num(k, v, { min: 0, max: 2 })], '--qos': ['qos', (k, v) => num(k, v, { min: 0, max: 2 })],
  '--sub-qos': ['subQos', (k, v) => num(k, v, { min: 0, max: 2 })],
  '-s': ['size', (k, v) => num(k, v, { min: 16, max: 64 * 1024 * 1024 })], '--size': ['size', (k, v) => num(k, v, { min: 16, max: 64 * 1024 * 1024 })],
  '-r': ['rate', (k, v) => num(k, v, { min: 0, int: false })], '--rate': ['rate', (k, v) => num(k, v, { min: 0, int: false })],
  '-d': ['duration', (k, v) => num(k, v, { min: 0.1, int: false })], '--duration': ['duration', (k, v) => num(k, v, { min: 0.1, int: false })],
  '--warmup': ['warmup', (k, v) => num(k, v, { min: 0, int: false })],
  '--inflight': ['inflight', (k, v) => num(k, v, { min: 1, max: 65535 })],
  '--max-pending': ['maxPending', (k, v) => num(k, v, { min: 0 })],
  '-n': ['pairs', (k, v) => num(k, v, { min: 1 })], '--pairs': ['pairs', (k, v) => num(k, v, { min: 1 })],
  '--pubs': ['pubs', (k, v) => num(k, v, { min: 1 })],
  '--subs': ['subs', (k, v) => num(k, v, { min: 0 })],
  '--topic-prefix': ['topicPrefix', str],
  '--sub-topic': ['subTopic', str],
  '--drain': ['drain', (k, v) => num(k, v, { min: 0, int: false })],
  '-c': ['count', (k, v) => num(k, v, { min: 1 })], '--count': ['count', (k, v) => num(k, v, { min: 1 })],
  '--hold': ['hold', (k, v) => num(k, v, { min: 0, int: false })],
  '--pid': ['pid', (k, v) => num(k, v, { min: 1 })],
  '--workers': ['workers', (k, v) => num(k, v, { min: 1, max: 64 })],
  '--label': ['label', str],
  '--setup-timeout': ['setupTimeout', (k, v) => num(k, v, { min: 1, int: false })],
  '--retain': ['retain', null], '--quiet': ['quiet', null], '--no-clean': ['clean', null], '--clean': ['clean', null]
}

const SCENARIOS = ['pairs', 'fanout', 'fanin', 'pubsub', 'conn']

/** @returns {object|null} the configuration, or null for --help */
export function parseArgs (argv) {
  if (argv.includes('--help') || argv[0] === 'help') return null
  const args = argv.slice()
  const scenario = args.shift()
  if (!scenario) throw new UsageError('no scenario')
  if (!SCENARIOS.includes(scenario)) throw new UsageError(`unknown scenario ${JSON.stringify(scenario)} (${SCENARIOS.join(', ')})`)
  const o = {
    scenario: scenario === 'pubsub' ? 'fanin' : scenario,
    host: '127.0.0.1', port: 1883, pubPorts: [], subPorts: [], username: null, password: null,
    version: 4, clean: true, sessionExpiry: 0, keepalive: 60, localAddresses: [], connectTimeout: 10,
    concurrency: 100, qos: 0, subQos: null, size: 64, rate: 0, duration: 10, warmup: 0, inflight: 32,
    maxPending: 100, pairs: null, pubs: null, subs: null, count: null, topicPrefix: 'bench',
    subTopic: null, retain: false, drain: 5, hold: 10, pid: null, workers: 1, label: null,
    setupTimeout: 300, quiet: false
  }
  while (args.length) {
    let key = args.shift()
    let val
    const eq = key.indexOf('=')
    if (key.startsWith('--') && eq > 0) { val = key.slice(eq + 1); key = key.slice(0, eq) }
    if (key === '-c' && scenario === 'pairs') key = '-n'
    const spec = OPTIONS[key]
    if (!spec) throw new UsageError(`unknown option ${key}`)
    const [field, parse] = spec
    if (parse === null) {
      o[field] = key === '--no-clean' ? false : val === undefined ? true : !/^(false|0|no)$/i.test(val)
      continue
    }
    if (val === undefined) {
      if (!args.length) throw new UsageError(`${key} needs a value`)
      val = args.shift()
    }
    o[field] = parse(key, val)
  }
  if (o.subQos === null) o.subQos = o.qos
  if (o.warmup >= o.duration) throw new UsageError(`--warmup ${o.warmup} must be shorter than -d ${o.duration}`)
  if (o.scenario === 'pairs') { o.pubs = o.subs = o.pairs ?? 10 }
  if (o.scenario === 'fanout') { o.pubs = 1; o.subs = o.subs ?? 10 }
  if (o.scenario === 'fanin') { o.pubs = o.pubs ?? 10; o.subs = o.subs ?? 1 }
  if (o.scenario === 'conn') o.count = o.count ?? 1000
  return o
}

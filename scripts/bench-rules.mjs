// node scripts/bench-rules.mjs [messages] [rounds]   (after `npx tsc -b`)
// What the rule engine costs, in process, same run, configurations alternating (the machine's
// noise shows in the spread):
//  1. evaluation cost per message: messages published through the broker and evaluated by 0, 1,
//     10 or 100 rules whose FROM matches (SELECT payload.temp AS t, clientid … WHERE payload.temp
//     > 30, half pass), and by 100 rules whose FROM does not (the trie lookup alone);
//  2. sinks: PostgreSQL rows/s (multi-row INSERT, batch 100) and Redis commands/s (pipelines of
//     100) through a rule, against real servers started here (Debian's postgresql, redis-server);
//  3. delivery: QoS 0 messages from one MQTT client to one subscriber over TCP, with no rules vs a
//     rule writing every message to a PostgreSQL that is down (its buffer full: drops counted) vs
//     one that is up.
// Prints each round and the medians.
import net from 'node:net';
import pino from 'pino';
import mqtt from 'mqtt';
import pg from 'pg';
import { createBroker } from '@vireo/broker';
import { RuleEngine, PgConnector, PgSink, RedisConnector, RedisSink } from '@vireo/rules';
import { startPostgres, startRedis } from '../tests/dist/db-servers.js';

const [M = '100000', R = '5'] = process.argv.slice(2);
const N = +M;
const logger = pino({ level: 'silent' });
const free = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const med = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const tick = () => new Promise((r) => setImmediate(r));
const report = (title, res, unit, digits = 0) => {
  console.log(title);
  for (const [k, v] of Object.entries(res)) console.log(`  ${k.padEnd(22)} ${v.map((x) => x.toFixed(digits)).join(' ')} ${unit}; median ${med(v).toFixed(digits)}`);
};
async function broker() {
  const port = await free();
  const b = await createBroker({ nodeName: 'bench@x', logger, listeners: [{ type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port, maxConnections: 100000 }] });
  return { b, port };
}
const SQL = 'SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30';
const payloads = [Buffer.from('{"temp": 20, "hum": 40}'), Buffer.from('{"temp": 35, "hum": 41}')];

// 1. evaluation cost
async function evalSetup(rules, matching) {
  const { b } = await broker();
  const engine = new RuleEngine(b, { logger });
  for (let i = 0; i < rules; i++) engine.put({ id: `r${i}`, sql: matching ? SQL : SQL.replace('sensors/#', `other/${i}/#`), actions: [], enable: true, description: '' });
  return { b, engine };
}
async function evalRound({ b, engine }) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    b.publishMessage({ topic: 'sensors/room1/temp', payload: payloads[i & 1], qos: 0 });
    if ((i & 4095) === 4095) await tick();
  }
  while (engine.stats.pending > 0) await tick();
  await tick();
  return Number(process.hrtime.bigint() - t) / 1e3 / N;
}
const evalCfg = { 'no rules': [0, true], '1 rule': [1, true], '10 rules': [10, true], '100 rules': [100, true], '100 rules, no match': [100, false] };
const evals = {};
for (const [k, [n, m]] of Object.entries(evalCfg)) evals[k] = await evalSetup(n, m);
// one unmeasured round each: JIT warm-up
for (const k of Object.keys(evalCfg)) await evalRound(evals[k]);
const eres = Object.fromEntries(Object.keys(evalCfg).map((k) => [k, []]));
for (let r = 0; r < +R; r++) for (const k of Object.keys(evalCfg)) eres[k].push(await evalRound(evals[k]));
report(`Publish + rule evaluation, in process (${N} messages per round)`, eres, 'µs/msg', 2);
const base = med(eres['no rules']);
console.log('  cost over no rules (median): ' + Object.keys(evalCfg).slice(1).map((k) => `${k} +${(med(eres[k]) - base).toFixed(2)} µs`).join(', '));
for (const s of Object.values(evals)) { s.engine.close(); await s.b.close(); }

// 2. sinks
const [pgServer, redisServer] = await Promise.all([startPostgres(), startRedis()]);
try {
  const db = new pg.Pool({ host: '127.0.0.1', port: pgServer.port, user: 'postgres', database: 'vireo', max: 1 });
  await db.query('CREATE TABLE temps (clientid text, t double precision)');
  const opts = { batchSize: 100, batchTime: 10, maxBufferBytes: 256 * 1024 * 1024, requestTtl: 30000, maxBackoff: 1000 };
  const pgConn = new PgConnector({ name: 'pg', host: '127.0.0.1', port: pgServer.port, database: 'vireo', user: 'postgres', password: undefined, poolSize: 4, connectTimeout: 5000 }, logger);
  const pgSink = new PgSink('pgsql:t', pgConn, 'INSERT INTO temps(clientid, t) VALUES (${clientid}, ${t})', opts, logger);
  const rConn = new RedisConnector({ name: 'r', host: '127.0.0.1', port: redisServer.port, database: 0, username: undefined, password: undefined, maxBackoff: 1000 }, logger);
  const rSink = new RedisSink('redis:t', rConn, ['HSET', 'dev:${clientid}', 't', '${t}'], opts, logger);
  const SINK_SQL = 'SELECT payload.temp AS t, clientid FROM "sensors/#"';
  async function sinkRound(sink, action) {
    const { b } = await broker();
    const engine = new RuleEngine(b, { logger, actions: new Map([[action, sink]]) });
    engine.put({ id: 's', sql: SINK_SQL, actions: [action], enable: true, description: '' });
    const before = sink.stats.success;
    const n = Math.min(N, 50000);
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      b.publishMessage({ topic: 'sensors/a', payload: payloads[i & 1], qos: 0 });
      if ((i & 4095) === 4095) await tick();
    }
    while (sink.stats.success - before < n) await new Promise((r) => setTimeout(r, 5));
    const rate = n / (Number(process.hrtime.bigint() - t) / 1e9);
    engine.close();
    await b.close();
    return rate;
  }
  while (rConn.status !== 'connected') await new Promise((r) => setTimeout(r, 20));
  const sres = { 'PostgreSQL rows': [], 'Redis commands': [] };
  for (let r = 0; r < +R; r++) {
    sres['PostgreSQL rows'].push(await sinkRound(pgSink, 'pgsql:t'));
    sres['Redis commands'].push(await sinkRound(rSink, 'redis:t'));
  }
  report(`Sinks through a rule (min(${N}, 50000) outputs per round, batches of 100)`, sres, '/s');
  const rows = Number((await db.query('SELECT count(*) AS n FROM temps')).rows[0].n);
  console.log(`  rows in the table: ${rows} (expected ${Math.min(N, 50000) * +R})`);

  // 3. delivery with a sink whose database is down
  async function pair(rule, port) {
    const { b, port: mqttPort } = await broker();
    let engine, conn, sink;
    if (rule) {
      conn = new PgConnector({ name: 'pg', host: '127.0.0.1', port, database: 'vireo', user: 'postgres', password: undefined, poolSize: 4, connectTimeout: 1000 }, logger);
      sink = new PgSink('pgsql:t', conn, 'INSERT INTO temps(clientid, t) VALUES (${clientid}, ${t})', { ...opts, maxBufferBytes: 16 * 1024 * 1024 }, logger);
      engine = new RuleEngine(b, { logger, actions: new Map([['pgsql:t', sink]]) });
      engine.put({ id: 's', sql: SINK_SQL, actions: ['pgsql:t'], enable: true, description: '' });
    }
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'sub' });
    await sub.subscribeAsync('sensors/#');
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'pub' });
    return { b, sub, pub, engine, sink, conn };
  }
  async function deliver({ sub, pub }) {
    let got = 0;
    const done = new Promise((r) => { const on = () => { if (++got === N) { sub.off('message', on); r(); } }; sub.on('message', on); });
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) pub.publish('sensors/a', payloads[i & 1], { qos: 0 });
    await done;
    return N / (Number(process.hrtime.bigint() - t) / 1e9);
  }
  const downPort = await free();
  const setups = { 'no rules': await pair(false), 'PostgreSQL down': await pair(true, downPort), 'PostgreSQL up': await pair(true, pgServer.port) };
  const dres = Object.fromEntries(Object.keys(setups).map((k) => [k, []]));
  for (let r = 0; r < +R; r++) for (const k of Object.keys(setups)) dres[k].push(await deliver(setups[k]));
  report(`QoS 0 delivery to one subscriber over TCP (${N} messages per round)`, dres, 'msg/s');
  const down = setups['PostgreSQL down'];
  console.log(`  with PostgreSQL down: status ${down.sink.status}, buffered ${down.sink.stats.queued}, dropped (buffer full) ${down.sink.stats.dropped}`);
  for (const s of Object.values(setups)) {
    await s.sub.endAsync();
    await s.pub.endAsync();
    s.engine?.close();
    s.sink?.close();
    await s.conn?.close();
    await s.b.close();
  }
  pgSink.close();
  rSink.close();
  await Promise.all([pgConn.close(), rConn.close(), db.end()]);
} finally {
  await Promise.all([pgServer.close(), redisServer.close()]);
}

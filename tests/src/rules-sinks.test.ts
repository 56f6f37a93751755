/**
 * Rule sinks against a real PostgreSQL and a real Redis (Debian's packages, started here on
 * free ports): rows and keys arrive with the right values; a value cannot become SQL; a bad
 * row fails alone; the database stopped mid-stream and started again loses nothing within
 * the buffer, while subscribers keep getting every message; a full buffer drops and counts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import pino from 'pino';
import { HttpConnector, HttpSink, PgConnector, PgSink, RedisConnector, RedisSink, RuleEngine, type RuleAction, type SinkOptions } from '@vireo/rules';
import { connect, endAll, freePort, startBroker, waitFor, type TestBroker } from './harness.js';
import { killAllVireo, spawnVireo } from './vireo-process.js';
import { startPostgres, startRedis, type DbServer } from './db-servers.js';

const logger = pino({ level: process.env.VIREO_TEST_LOG ?? 'silent' });
const T = { timeout: 120_000 };
const OPTS: SinkOptions = { batchSize: 50, batchTime: 5, maxBufferBytes: 8 * 1024 * 1024, requestTtl: 5000, maxBackoff: 300 };

let pgServer: DbServer;
let redisServer: DbServer;
let db: pg.Pool;

before(async () => {
  [pgServer, redisServer] = await Promise.all([startPostgres(), startRedis()]);
  db = new pg.Pool({ host: '127.0.0.1', port: pgServer.port, user: 'postgres', database: 'vireo', max: 2 });
  db.on('error', () => undefined);
});

after(async () => {
  killAllVireo();
  await db?.end().catch(() => undefined);
  await Promise.all([pgServer?.close(), redisServer?.close()]);
});

const pgConnector = () =>
  new PgConnector({ name: 'pg1', host: '127.0.0.1', port: pgServer.port, database: 'vireo', user: 'postgres', password: undefined, poolSize: 4, connectTimeout: 1000 }, logger);

interface Setup {
  tb: TestBroker;
  engine: RuleEngine;
  close(): Promise<void>;
}

async function withEngine(actions: Map<string, RuleAction>, rules: { id: string; sql: string; actions: string[] }[]): Promise<Setup> {
  const tb = await startBroker();
  const engine = new RuleEngine(tb.broker, { logger, actions });
  for (const r of rules) engine.put({ ...r, enable: true, description: '' });
  return {
    tb,
    engine,
    close: async () => {
      engine.close();
      await tb.close();
    },
  };
}

const count = async (sql: string) => Number((await db.query(sql)).rows[0].n);

test('PostgreSQL: rows arrive with the right values, values stay values, a bad row fails alone', T, async () => {
  await db.query('CREATE TABLE temps (seq int PRIMARY KEY, clientid text NOT NULL, t double precision, meta jsonb)');
  const conn = pgConnector();
  const sink = new PgSink('pgsql:store', conn, 'INSERT INTO temps(seq, clientid, t, meta) VALUES (${seq}, ${clientid}, ${t}, ${meta})', OPTS, logger);
  const s = await withEngine(new Map([['pgsql:store', sink]]), [
    { id: 'store', sql: 'SELECT payload.seq AS seq, clientid, payload.t AS t, payload.meta AS meta FROM "sensors/#"', actions: ['pgsql:store'] },
  ]);
  const evil = "x'); DROP TABLE temps; --";
  const dev = await connect(s.tb.url, { clientId: 'dev-1' });
  const bad = await connect(s.tb.url, { clientId: evil });
  try {
    for (let i = 1; i <= 300; i++) dev.publish('sensors/a', JSON.stringify({ seq: i, t: i / 2, meta: { room: `r${i % 3}` } }), { qos: 0 });
    await bad.publishAsync('sensors/b', JSON.stringify({ seq: 1000, t: 1.5 }), { qos: 1 });
    // 't' that is not a number: PostgreSQL refuses this row only
    await bad.publishAsync('sensors/b', JSON.stringify({ seq: 1001, t: 'hot' }), { qos: 1 });
    await waitFor(() => sink.stats.success + sink.stats.failed === 302, 'every output written or refused', 30_000);
    assert.equal(await count('SELECT count(*) AS n FROM temps'), 301);
    const r = await db.query('SELECT sum(t) AS s, count(DISTINCT seq) AS d FROM temps WHERE clientid = $1', ['dev-1']);
    assert.equal(Number(r.rows[0].s), (300 * 301) / 2 / 2);
    assert.equal(Number(r.rows[0].d), 300);
    const row = (await db.query('SELECT clientid, meta FROM temps WHERE seq = 7')).rows[0];
    assert.deepEqual(row, { clientid: 'dev-1', meta: { room: 'r1' } });
    assert.equal((await db.query('SELECT clientid FROM temps WHERE seq = 1000')).rows[0].clientid, evil, 'stored as text, not run');
    const m = s.engine.get('store')!.metrics;
    assert.equal(m['actions.success'], 301);
    assert.equal(m['actions.failed'], 1);
    assert.equal(sink.status, 'connected');
  } finally {
    await endAll(dev, bad);
    await s.close();
    sink.close();
    await conn.close();
    await db.query('DROP TABLE IF EXISTS temps');
  }
});

test('PostgreSQL stopped mid-stream and started again: nothing lost within the buffer, delivery unaffected', T, async () => {
  await db.query('CREATE TABLE seqs (seq int PRIMARY KEY, clientid text)');
  const conn = pgConnector();
  // a retried batch whose first attempt did land must not count twice: the key makes it idempotent
  const sink = new PgSink('pgsql:seqs', conn, 'INSERT INTO seqs(seq, clientid) VALUES (${seq}, ${clientid}) ON CONFLICT DO NOTHING', OPTS, logger);
  const s = await withEngine(new Map([['pgsql:seqs', sink]]), [{ id: 'seqs', sql: 'SELECT payload.seq AS seq, clientid FROM "s/#"', actions: ['pgsql:seqs'] }]);
  const dev = await connect(s.tb.url, { clientId: 'dev-2' });
  const sub = await connect(s.tb.url, { clientId: 'sub-2' });
  let got = 0;
  sub.on('message', () => got++);
  try {
    await sub.subscribeAsync('s/#', { qos: 0 });
    for (let i = 1; i <= 200; i++) dev.publish('s/x', JSON.stringify({ seq: i }), { qos: 0 });
    await waitFor(() => sink.stats.success >= 100, 'some rows written before the stop', 20_000);
    await pgServer.stop();
    // while PostgreSQL is down: more messages, every one still delivered to the subscriber at once
    for (let i = 201; i <= 500; i++) dev.publish('s/x', JSON.stringify({ seq: i }), { qos: 0 });
    await waitFor(() => got === 500, 'subscriber got all 500 while the database is down', 10_000);
    await waitFor(() => sink.status === 'disconnected', 'status disconnected', 10_000);
    assert.ok(sink.stats.queued > 0, 'outputs wait in the buffer');
    await pgServer.start();
    await waitFor(() => sink.stats.queued === 0 && sink.stats.success === 500, `buffer drained (queued ${sink.stats.queued}, success ${sink.stats.success})`, 60_000);
    assert.equal(await count('SELECT count(*) AS n FROM seqs'), 500);
    assert.equal(await count('SELECT count(*) AS n FROM seqs WHERE seq BETWEEN 1 AND 500'), 500);
    assert.equal(sink.status, 'connected');
    assert.equal(sink.stats.dropped, 0);
  } finally {
    await endAll(dev, sub);
    await s.close();
    sink.close();
    await conn.close();
    await db.query('DROP TABLE IF EXISTS seqs').catch(() => undefined);
  }
});

test('a full buffer drops new outputs, counts them as actions.failed, and keeps what it holds', T, async () => {
  await db.query('CREATE TABLE small (seq int PRIMARY KEY, pad text)');
  const conn = pgConnector();
  const sink = new PgSink('pgsql:small', conn, 'INSERT INTO small(seq, pad) VALUES (${seq}, ${pad})', { ...OPTS, maxBufferBytes: 20_000 }, logger);
  const s = await withEngine(new Map([['pgsql:small', sink]]), [{ id: 'small', sql: 'SELECT payload.seq AS seq, payload.pad AS pad FROM "b/#"', actions: ['pgsql:small'] }]);
  const dev = await connect(s.tb.url, { clientId: 'dev-3' });
  try {
    await pgServer.stop();
    const pad = 'x'.repeat(1000);
    for (let i = 1; i <= 100; i++) dev.publish('b/x', JSON.stringify({ seq: i, pad }), { qos: 0 });
    await waitFor(() => s.engine.get('small')!.metrics['actions.total'] === 100, 'all evaluated', 10_000);
    const held = sink.stats.queued;
    assert.ok(held > 0 && held < 25, `about 20 KB of ~1 KB outputs held, got ${held}`);
    assert.equal(sink.stats.dropped, 100 - held);
    assert.equal(s.engine.get('small')!.metrics['actions.failed'], 100 - held);
    await pgServer.start();
    await waitFor(() => sink.stats.success === held, 'the held outputs written after the restart', 60_000);
    assert.equal(await count('SELECT count(*) AS n FROM small'), held);
  } finally {
    await endAll(dev);
    await s.close();
    sink.close();
    await conn.close();
    await db.query('DROP TABLE IF EXISTS small').catch(() => undefined);
  }
});

test('Redis: command templates pipelined, values right, a refused command fails alone, a restart loses nothing buffered', T, async () => {
  const conn = new RedisConnector({ name: 'r1', host: '127.0.0.1', port: redisServer.port, database: 0, username: undefined, password: undefined, maxBackoff: 300 }, logger);
  const hset = new RedisSink('redis:last', conn, ['HSET', 'dev:${clientid}', 'temp', '${t}', 'note', '${note}'], OPTS, logger);
  const incr = new RedisSink('redis:count', conn, ['HINCRBY', '${key}', '${clientid}', '1'], OPTS, logger);
  const s = await withEngine(
    new Map<string, RuleAction>([
      ['redis:last', hset],
      ['redis:count', incr],
    ]),
    [{ id: 'r', sql: 'SELECT clientid, payload.t AS t, payload.note AS note, coalesce(payload.key, \'temps\') AS key FROM "r/#"', actions: ['redis:last', 'redis:count'] }],
  );
  const check = new Redis({ port: redisServer.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  await check.connect();
  const dev = await connect(s.tb.url, { clientId: 'dev-4' });
  try {
    await waitFor(() => conn.status === 'connected', 'connector connected', 10_000);
    await check.set('notahash', 'v');
    for (let i = 1; i <= 100; i++) dev.publish('r/x', JSON.stringify({ t: i, note: 'a b c' }), { qos: 0 });
    // HINCRBY on a string key: Redis refuses this one command
    await dev.publishAsync('r/x', JSON.stringify({ t: 101, note: 'last', key: 'notahash' }), { qos: 1 });
    await waitFor(
      () => incr.stats.success + incr.stats.failed === 101 && hset.stats.success === 101,
      `all commands answered ${JSON.stringify([incr.stats, hset.stats, s.engine.get('r')!.metrics])}`,
      20_000,
    );
    assert.deepEqual(await check.hgetall('dev:dev-4'), { temp: '101', note: 'last' });
    assert.equal(await check.hget('temps', 'dev-4'), '100');
    assert.equal(incr.stats.failed, 1);
    assert.equal(s.engine.get('r')!.metrics['actions.failed'], 1);

    await redisServer.stop();
    for (let i = 1; i <= 50; i++) dev.publish('r/x', JSON.stringify({ t: 200 + i, note: 'down' }), { qos: 0 });
    await waitFor(() => conn.status !== 'connected' && incr.stats.queued === 50, 'held while Redis is down', 10_000);
    await redisServer.start();
    await waitFor(() => incr.stats.queued === 0 && hset.stats.queued === 0, 'drained after the restart', 30_000);
    await check.connect().catch(() => undefined);
    await waitFor(() => check.status === 'ready', 'checker reconnected', 10_000);
    assert.equal(await check.hget('temps', 'dev-4'), '150', 'the 100 before the stop (saved at shutdown) and the 50 held');
    assert.deepEqual(await check.hgetall('dev:dev-4'), { temp: '250', note: 'down' });
  } finally {
    check.disconnect();
    await endAll(dev);
    await s.close();
    hset.close();
    incr.close();
    await conn.close();
  }
});

test('vireo start with connectors and actions in vireo.yaml: a row, a key and an HTTP request per message', T, async () => {
  await db.query('CREATE TABLE temps_cfg (clientid text, t double precision)');
  const requests: { method: string; url: string; body: string }[] = [];
  const hook = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      // the connector's health check is a HEAD of the base URL
      if (req.method !== 'HEAD') requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookPort = (hook.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'vireo-rules-cfg-'));
  const port = await freePort();
  const file = join(dir, 'vireo.yaml');
  writeFileSync(
    file,
    `
listeners: {tcp: {default: {bind: "127.0.0.1:${port}"}}, ws: {default: {bind: "0"}}}
rule_engine:
  rules:
    hot:
      sql: SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30
      actions: [pgsql:store_temp, redis:count, http:notify]
connectors:
  pgsql: {pg1: {server: "127.0.0.1:${pgServer.port}", database: vireo, username: postgres}}
  redis: {r1: {parameters: {redis_type: single, server: "127.0.0.1:${redisServer.port}"}}}
  http: {h1: {url: "http://127.0.0.1:${hookPort}", headers: ["X-Token: abc"]}}
actions:
  pgsql: {store_temp: {connector: pg1, parameters: {sql: "INSERT INTO temps_cfg(clientid, t) VALUES (\${clientid}, \${t})"}}}
  redis: {count: {connector: r1, parameters: {command_template: [HINCRBY, temps_cfg, "\${clientid}", "1"]}}}
  http: {notify: {connector: h1, parameters: {method: post, path: "/hook/\${clientid}", body: "\${.}"}}}
`,
  );
  const vireo = spawnVireo({ args: ['start', '--config', file] });
  const check = new Redis({ port: redisServer.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  let dev: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    await vireo.waitForLog('started');
    dev = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'cfg-1' });
    await dev.publishAsync('sensors/a', '{"temp": 20}', { qos: 1 });
    await dev.publishAsync('sensors/a', '{"temp": 35.5}', { qos: 1 });
    await dev.publishAsync('sensors/b', '{"temp": 41}', { qos: 1 });
    await waitFor(() => requests.length === 2, 'two HTTP requests', 20_000);
    const rows = async () => (await db.query('SELECT clientid, t FROM temps_cfg ORDER BY t')).rows;
    await waitFor(async () => (await rows()).length >= 2, 'two rows', 20_000, 100).catch(() => undefined);
    assert.deepEqual(await rows(), [
      { clientid: 'cfg-1', t: 35.5 },
      { clientid: 'cfg-1', t: 41 },
    ]);
    // each action runs on its own: the Redis count may come after the rows
    await waitFor(async () => (await check.hget('temps_cfg', 'cfg-1')) === '2', 'the Redis count at 2', 20_000, 100).catch(() => undefined);
    assert.equal(await check.hget('temps_cfg', 'cfg-1'), '2');
    assert.deepEqual(
      requests.map((r) => [r.method, r.url, JSON.parse(r.body)]),
      [
        ['POST', '/hook/cfg-1', { t: 35.5, clientid: 'cfg-1' }],
        ['POST', '/hook/cfg-1', { t: 41, clientid: 'cfg-1' }],
      ],
    );
  } finally {
    check.disconnect();
    await endAll(dev);
    vireo.kill('SIGTERM');
    await vireo.waitExit(8000).catch(() => undefined);
    await new Promise((r) => hook.close(r));
    rmSync(dir, { recursive: true, force: true });
    await db.query('DROP TABLE IF EXISTS temps_cfg').catch(() => undefined);
  }
});

test('HTTP: templated path and body; a 5xx is retried until it passes, a 4xx fails that output alone', T, async () => {
  const seen: { url: string; body: string; auth: string | undefined }[] = [];
  let flaky = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.method === 'HEAD') return res.end();
      const url = req.url ?? '';
      if (url.startsWith('/flaky') && flaky++ < 2) {
        res.statusCode = 503;
        return res.end();
      }
      seen.push({ url, body, auth: req.headers.authorization });
      res.statusCode = url.startsWith('/bad') ? 400 : 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const conn = new HttpConnector({ name: 'h', url: `http://127.0.0.1:${port}/`, headers: { authorization: 'Bearer t0k' }, connectTimeout: 2000 });
  const sink = new HttpSink('http:h', conn, { method: 'post', path: '${kind}/${clientid}', body: '{"v": ${v}, "all": ${.}}', headers: {} }, { ...OPTS, batchSize: 1 }, logger);
  const s = await withEngine(new Map([['http:h', sink]]), [
    { id: 'h', sql: 'SELECT nth(2, split(topic, \'/\')) AS kind, clientid, payload.v AS v FROM "h/#"', actions: ['http:h'] },
  ]);
  const dev = await connect(s.tb.url, { clientId: 'dev-h' });
  try {
    await dev.publishAsync('h/ok', '{"v": 1}', { qos: 1 });
    await dev.publishAsync('h/bad', '{"v": 2}', { qos: 1 });
    await dev.publishAsync('h/flaky', '{"v": 3}', { qos: 1 });
    await waitFor(() => sink.stats.success + sink.stats.failed === 3, 'three outputs settled', 20_000);
    assert.deepEqual(
      seen.map((r) => [r.url, JSON.parse(r.body).v, r.auth]),
      [
        ['/ok/dev-h', 1, 'Bearer t0k'],
        ['/bad/dev-h', 2, 'Bearer t0k'],
        ['/flaky/dev-h', 3, 'Bearer t0k'],
      ],
    );
    assert.deepEqual(JSON.parse(seen[0]!.body).all, { kind: 'ok', clientid: 'dev-h', v: 1 });
    assert.equal(sink.stats.failed, 1);
    assert.ok(sink.stats.retried >= 2, 'the 503s were retried');
    assert.equal(s.engine.get('h')!.metrics['actions.success'], 2);
    assert.equal(s.engine.get('h')!.metrics['actions.failed'], 1);
  } finally {
    await endAll(dev);
    await s.close();
    sink.close();
    await new Promise((r) => server.close(r));
  }
});

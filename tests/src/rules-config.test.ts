/** Rules configured as EMQX 5 does (vireo.yaml and VIREO_RULE_ENGINE__… variables), in a real `vireo start`. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, connect, endAll, freePort } from './harness.js';
import { killAllVireo, spawnVireo } from './vireo-process.js';

const T = { timeout: 120_000 };
after(() => killAllVireo());

test('a rule with a syntax error: exit 2, stderr names the key, the line and the column', T, async () => {
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_RULE_ENGINE__RULES__HOT__SQL: 'SELECT payload.temp AS t FROM "sensors/#" WHER payload.temp > 30',
      VIREO_RULE_ENGINE__RULES__COLD__SQL: 'SELECT * FROM "t"',
      VIREO_RULE_ENGINE__RULES__COLD__ACTIONS: '[republish]',
    },
  });
  const exit = await vireo.waitExit();
  assert.equal(exit.code, 2, vireo.stderr());
  // the actions' shape is checked with every other key, the SQL once the configuration is valid
  assert.match(vireo.stderr(), /rule_engine\.rules\.cold\.actions\[0\]: expected "<type>:<name>"/);
  assert.equal(vireo.stdout(), '');
  const sql = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_RULE_ENGINE__RULES__HOT__SQL: 'SELECT payload.temp AS t FROM "sensors/#" WHER payload.temp > 30',
      VIREO_RULE_ENGINE__RULES__BAD__SQL: 'SELECT nth(1) FROM "t"',
    },
  });
  assert.equal((await sql.waitExit()).code, 2, sql.stderr());
  assert.match(sql.stderr(), /rule_engine\.rules\.hot\.sql: syntax error at line 1, column 43: unexpected "WHER"/);
  assert.match(sql.stderr(), /rule_engine\.rules\.bad\.sql: syntax error at line 1, column 8: nth\(\) takes 2 arguments, got 1/);
});

/** Starts a node with a vireo.yaml of these lines; it must refuse to start (exit 2): its stderr. */
async function refusedConfig(lines: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-rules-'));
  try {
    const file = join(dir, 'vireo.yaml');
    writeFileSync(file, ['listeners: {tcp: {default: {bind: "0"}}, ws: {default: {bind: "0"}}}', ...lines].join('\n'));
    const vireo = spawnVireo({ args: ['start', '--config', file] });
    assert.equal((await vireo.waitExit()).code, 2, vireo.stderr());
    return vireo.stderr();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an action naming a connector that does not exist: exit 2 naming the key', T, async () => {
  const stderr = await refusedConfig([
    'actions:',
    '  pgsql:',
    '    store: {connector: nope, parameters: {sql: "INSERT INTO t(a) VALUES (${a})"}}',
    'rule_engine:',
    '  rules:',
    '    r1: {sql: "SELECT 1 AS a FROM \\"t\\"", actions: ["pgsql:store", "redis:gone"]}',
  ]);
  assert.match(stderr, /actions\.pgsql\.store\.connector: no connectors\.pgsql\.nope/);
});

test('a connector or action the builder refuses (no URL, no SQL): exit 2 naming each key', T, async () => {
  const stderr = await refusedConfig([
    'connectors: {http: {hook: {}}, pgsql: {db: {server: "127.0.0.1:1"}}}',
    'actions:',
    '  http: {out: {connector: hook}}',
    '  pgsql: {store: {connector: db, parameters: {sql: " "}}}',
  ]);
  assert.match(stderr, /connectors\.http\.hook\.url: required, an http\(s\) URL/);
  assert.match(stderr, /actions\.pgsql\.store\.parameters\.sql: required/);
});

test('rules from the environment run in a started node: republish end to end with real clients', T, async () => {
  const port = await freePort();
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_RULE_ENGINE__RULES__HOT__SQL: 'SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30',
      VIREO_RULE_ENGINE__RULES__HOT__ACTIONS: '[{function: republish, args: {topic: "alerts/${clientid}", qos: 1, payload: "${t}"}}]',
      VIREO_RULE_ENGINE__RULES__GONE__SQL: 'SELECT clientid, reason FROM "$events/client_disconnected"',
      VIREO_RULE_ENGINE__RULES__GONE__ACTIONS: '[{function: republish, args: {topic: "offline/${clientid}", payload: "${reason}"}}]',
    },
  });
  await vireo.waitForLog('started');
  const url = `mqtt://127.0.0.1:${port}`;
  const sub = await connect(url, { clientId: 'watcher' });
  const dev = await connect(url, { clientId: 'dev-9' });
  try {
    await sub.subscribeAsync(['alerts/#', 'offline/#'], { qos: 1 });
    const got = collect(sub, 2);
    await dev.publishAsync('sensors/a', '{"temp": 12}', { qos: 1 });
    await dev.publishAsync('sensors/a', '{"temp": 40}', { qos: 1 });
    await dev.endAsync();
    const msgs = await got;
    assert.deepEqual(
      msgs.map((m) => [m.topic, m.payload]),
      [
        ['alerts/dev-9', '40'],
        ['offline/dev-9', 'normal'],
      ],
    );
  } finally {
    await endAll(sub, dev);
    vireo.kill('SIGTERM');
    assert.equal((await vireo.waitExit(8000)).code, 0, vireo.stderr());
  }
});

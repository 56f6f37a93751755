import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRuleSql } from './rule-sql.js';
import { EventContext } from './sql/compile.js';
import { RuleSqlError } from './sql/lexer.js';
import { RuleEvalError } from './sql/functions.js';
import { compileTemplate, renderText } from './template.js';

const msg = (fields: Record<string, unknown>) =>
  new EventContext({
    event: 'message.publish',
    topic: 't/a',
    clientid: 'c1',
    username: 'u1',
    qos: 1,
    payload: '{}',
    flags: { retain: false },
    node: 'n1',
    timestamp: 1000,
    peerhost: '10.0.0.1',
    pub_props: {},
    ...fields,
  });

const run = (sql: string, fields: Record<string, unknown> = {}) => compileRuleSql(sql).run(msg(fields));

function refused(sql: string, line: number, column: number, reason: RegExp): void {
  assert.throws(
    () => compileRuleSql(sql),
    (err: unknown) => {
      assert.ok(err instanceof RuleSqlError, `not a RuleSqlError: ${String(err)}`);
      assert.equal(err.line, line, err.message);
      assert.equal(err.column, column, err.message);
      assert.match(err.reason, reason);
      assert.match(err.message, new RegExp(`line ${line}, column ${column}`));
      return true;
    },
  );
}

test('the issue example: JSON paths, alias in WHERE, FROM topics', () => {
  const r = compileRuleSql('SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30');
  assert.deepEqual(r.topics, ['sensors/#']);
  assert.deepEqual(r.events, []);
  assert.deepEqual(r.run(msg({ payload: '{"temp": 31.5}' })), { t: 31.5, clientid: 'c1' });
  assert.equal(r.run(msg({ payload: '{"temp": 30}' })), undefined);
  assert.equal(r.run(msg({ payload: 'not json' })), undefined);
});

test('un-aliased paths nest as EMQX does; * copies every field; later fields and WHERE see aliases', () => {
  assert.deepEqual(run('SELECT payload.sensor.temp, topic FROM "t/#"', { payload: '{"sensor":{"temp":5,"x":1}}' }), { payload: { sensor: { temp: 5 } }, topic: 't/a' });
  const all = run('SELECT *, qos + 1 AS q FROM "t/#"');
  assert.equal(all!.clientid, 'c1');
  assert.equal(all!.payload, '{}');
  assert.equal(all!.q, 2);
  assert.deepEqual(run('SELECT payload.a AS a, a * 2 AS b FROM "t/#" WHERE b = 8', { payload: '{"a":4}' }), { a: 4, b: 8 });
  assert.deepEqual(run('SELECT 1 AS x.y.z FROM "t"'), { x: { y: { z: 1 } } });
  // nesting into a map of the event changes the output only, not the event other rules read
  const ctx = msg({ flags: { retain: true } });
  const out = compileRuleSql('SELECT *, 1 AS flags.extra, payload.a AS payload.b FROM "t"').run(ctx)!;
  assert.deepEqual(out.flags, { retain: true, extra: 1 });
  assert.deepEqual(ctx.fields.flags, { retain: true });
  assert.deepEqual(out.payload, { b: undefined });
  assert.deepEqual(run('SELECT upper(clientid) FROM "t"'), { 'upper(clientid)': 'C1' });
});

test("fields: flags.retain, pub_props.'User-Property', indexes (1-based, negative), nested JSON strings", () => {
  const pub_props = { 'User-Property': { site: 'lyon' } };
  assert.deepEqual(run('SELECT pub_props.\'User-Property\'.site AS s, flags.retain AS r FROM "t"', { pub_props }), { s: 'lyon', r: false });
  assert.deepEqual(run('SELECT payload.l[1] AS a, payload.l[-1] AS z FROM "t"', { payload: '{"l":[1,2,3]}' }), { a: 1, z: 3 });
  assert.deepEqual(run('SELECT payload.inner.v AS v FROM "t"', { payload: JSON.stringify({ inner: JSON.stringify({ v: 7 }) }) }), { v: 7 });
  assert.deepEqual(run('SELECT payload.missing.deep AS m FROM "t"', { payload: '{}' }), { m: undefined });
});

test('operators: arithmetic, comparison, and/or/not, in, =~, CASE, string +', () => {
  const w = (cond: string, fields: Record<string, unknown> = {}) => run(`SELECT 1 AS one FROM "t/#" WHERE ${cond}`, fields) !== undefined;
  assert.equal(w('1 + 2 * 3 = 7'), true);
  assert.equal(w('(1 + 2) * 3 = 9'), true);
  assert.equal(w('7 div 2 = 3 and 7 mod 2 = 1 and 7 / 2 = 3.5'), true);
  assert.equal(w('-qos < 0'), true);
  assert.equal(w('qos >= 1 and qos <= 1 and qos != 2 and qos <> 0'), true);
  assert.equal(w("qos = 0 or clientid = 'c1'"), true);
  assert.equal(w('not qos = 0'), true);
  assert.equal(w('NOT (qos = 1)'), false);
  assert.equal(w("clientid in ('a', 'c1')"), true);
  assert.equal(w("clientid not in ('a', 'c1')"), false);
  assert.equal(w("topic =~ 't/+'"), true);
  assert.equal(w("topic =~ 'x/#'"), false);
  assert.equal(w("payload.n > '10'", { payload: '{"n": 11}' }), true, 'number vs numeric string compares as numbers');
  assert.equal(w("payload.s = 'x'", { payload: '{"s": "x"}' }), true);
  assert.equal(w('payload.none > 1'), false, 'missing field is not ordered');
  assert.deepEqual(run("SELECT CASE WHEN qos = 0 THEN 'low' WHEN qos = 1 THEN 'mid' ELSE 'high' END AS level FROM \"t\""), { level: 'mid' });
  assert.deepEqual(run("SELECT CASE qos WHEN 2 THEN 'two' ELSE 'other' END AS q FROM \"t\""), { q: 'other' });
  assert.deepEqual(run('SELECT CASE WHEN qos = 2 THEN \'two\' END AS q FROM "t"'), { q: null });
  assert.deepEqual(run('SELECT clientid + \'/\' + qos AS k FROM "t"'), { k: 'c1/1' });
  assert.equal(w('TRUE and not false'), true, 'keywords are case-insensitive');
});

test('functions: topic levels, strings, JSON, conversions, coalesce, math, time', () => {
  const one = (expr: string, fields: Record<string, unknown> = {}) => run(`SELECT ${expr} AS v FROM "t/#"`, fields)!.v;
  assert.equal(one("nth(2, split('sensors/room1/temp', '/'))"), 'room1');
  assert.deepEqual(one("split('/a//b/', '/')"), ['a', 'b']);
  assert.equal(one("lower('AbC')"), 'abc');
  assert.equal(one("upper('abc')"), 'ABC');
  assert.equal(one("concat('a', 1, 'b')"), 'a1b');
  assert.equal(one("substr('hello', 1, 3)"), 'ell');
  assert.equal(one("substr('hello', 2)"), 'llo');
  assert.deepEqual(one('json_decode(payload)', { payload: '{"a":[1]}' }), { a: [1] });
  assert.equal(one('json_decode(payload).a[1]', { payload: '{"a":[9]}' }), 9);
  assert.equal(one('json_encode(json_decode(\'{"x": 1}\'))'), '{"x":1}');
  assert.equal(one("int('42')"), 42);
  assert.equal(one('int(3.9)'), 3);
  assert.equal(one("float('2.5')"), 2.5);
  assert.equal(one('str(12)'), '12');
  assert.equal(one('coalesce(payload.none, payload.b, 0)', { payload: '{"b": 5}' }), 5);
  assert.equal(one('is_null(payload.none)'), true);
  assert.equal(one('is_null(qos)'), false);
  assert.equal(one('abs(-2) + power(2, 3) + floor(1.7) + ceil(1.2) + round(2.5)'), 2 + 8 + 1 + 2 + 3);
  assert.equal(one('sqrt(16)'), 4);
  const now = one('now_timestamp()') as number;
  assert.ok(Math.abs(now - Date.now() / 1000) < 5);
  assert.ok(Math.abs((one("now_timestamp('millisecond')") as number) - Date.now()) < 5000);
  assert.equal(one("md5('a')"), '0cc175b9c0f1b6a831c399e269772661');
});

test('a bad value fails that evaluation with RuleEvalError, not the rule', () => {
  const r = compileRuleSql('SELECT nth(5, split(topic, \'/\')) AS x FROM "t/#"');
  assert.throws(() => r.run(msg({})), RuleEvalError);
  assert.throws(() => run('SELECT 1 / 0 AS x FROM "t"'), RuleEvalError);
  assert.throws(() => run('SELECT \'a\' * 2 AS x FROM "t"'), RuleEvalError);
});

test('FROM: several topics and events; unknown events and bad filters refused at their position', () => {
  const r = compileRuleSql('SELECT * FROM "a/+", "$events/client_connected", \'$events/session_subscribed\', "b/#"');
  assert.deepEqual(r.topics, ['a/+', 'b/#']);
  assert.deepEqual(r.events, ['client.connected', 'session.subscribed']);
  refused('SELECT * FROM "$events/client_gone"', 1, 15, /unknown event/);
  refused('SELECT * FROM "a/#/b"', 1, 15, /not a valid topic filter/);
});

test('syntax errors are refused with the line and column', () => {
  refused('SELEC * FROM "t"', 1, 1, /expected SELECT/);
  refused('SELECT payload.temp AS t, clientid FROM "sensors/#" WHER payload.temp > 30', 1, 53, /unexpected "WHER"/);
  refused('SELECT a FROM "t" WHERE', 1, 24, /end of the statement/);
  refused('SELECT a,\n  b +\nFROM "t"', 3, 1, /expected an expression, got "FROM"/);
  refused('SELECT a FROM t', 1, 15, /topic filter or event in quotes/);
  refused('SELECT \'abc FROM "t"', 1, 8, /unterminated string/);
  refused('SELECT a FROM "t" WHERE a = 1 ;', 1, 31, /unexpected character ";"/);
  refused('SELECT nosuch(a) FROM "t"', 1, 8, /unknown function nosuch\(\)/);
  refused('SELECT\n  nth(1) AS x FROM "t"', 2, 3, /nth\(\) takes 2 arguments, got 1/);
  refused('SELECT CASE WHEN a THEN 1 FROM "t"', 1, 27, /expected END/);
  refused('SELECT a FROM "t" WHERE a in 1', 1, 30, /expected "\("/);
  refused('SELECT a AS FROM "t"', 1, 13, /expected a name after AS/);
});

test('templates: ${field}, nested paths, ${.} for the whole output', () => {
  const out = { t: 31, clientid: 'c1', payload: { x: { y: 'deep' } } };
  assert.equal(renderText(compileTemplate('alerts/${clientid}'), out), 'alerts/c1');
  assert.equal(renderText(compileTemplate('${payload.x.y}-${t}'), out), 'deep-31');
  assert.equal(renderText(compileTemplate('${.}'), out), JSON.stringify(out));
  assert.equal(renderText(compileTemplate('${none}|'), out), '|');
  assert.equal(renderText(compileTemplate('plain'), out), 'plain');
});

/**
 * Every admin operation a node serves to its peers checks its arguments, over the real
 * cluster link: a peer that knows the cookie sends each operation arguments it does not
 * take, and arguments of the wrong type; each is refused with an error naming the
 * operation and the argument, logged, and no handler runs (nothing changes on the node).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { OP_SCHEMAS, tableOpSchemas } from '@vireo/admin';
import { freePort } from './harness.js';
import { logsMatching, startNode, waitLog, type ClusterNode } from './cluster-nodes.js';
import { CookiePeer } from './cluster-peer-attacker.js';

const T = { timeout: 120_000 };
let node: ClusterNode | undefined;
let peer: CookiePeer | undefined;
after(async () => {
  peer?.close();
  node?.proc.kill('SIGKILL');
  await node?.proc.waitExit();
});

/** The tables every node keeps the same (record-sync.ts), each with put/delete/list. */
const TABLES = ['api_keys', 'banned', 'users', 'dashboard_users', 'dashboard_tokens', 'rules', 'integrations'];

type Schema = { properties?: Record<string, Schema>; required?: string[] };

test('every admin operation refuses unknown and mistyped arguments from a peer, before its handler runs', T, async () => {
  node = startNode({
    name: 'opsa@127.0.0.1',
    rpcPort: await freePort(),
    mqttPort: await freePort(),
    seeds: [],
    extraEnv: { VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${await freePort()}` },
  });
  await node.proc.waitForLog('HTTP API listening', 30_000);
  peer = new CookiePeer('cluster-test-cookie', 'insider@127.0.0.1');
  await peer.join(node.rpcPort);
  await waitLog(node, 'Cluster node running', (l) => l.peer_node === 'insider@127.0.0.1', 20_000);

  const schemas: Record<string, Schema> = { ...(OP_SCHEMAS as Record<string, Schema>) };
  for (const t of TABLES) Object.assign(schemas, tableOpSchemas(t));
  // the operations added after the first schemas are among them
  for (const op of ['bridges.list', 'alarms.page', 'alarms.clear', 'rules.metrics', 'rules.sinks', 'trace.read', 'monitor.samples', 'retainer.clean', 'banned.list']) {
    assert.ok(op in schemas, `${op} has a schema`);
  }

  let id = 0;
  const refused: string[] = [];
  for (const [op, schema] of Object.entries(schemas)) {
    // what the op takes, correctly typed where required, plus one argument it does not take
    const extra = await peer.call(++id, op, { unexpected: 1 });
    assert.equal(extra.ok, false, `${op} accepted an unknown argument`);
    assert.match(extra.error, new RegExp(`^${op.replace('.', '\\.')}: bad arguments: .*(must NOT have additional properties|must have required property)`), op);
    const notObject = await peer.call(++id, op, 'a string');
    assert.equal(notObject.ok, false, `${op} accepted a string`);
    assert.match(notObject.error, /bad arguments: args must be object/, op);
    // each argument it takes, with a value of the wrong type (an object where a string or number goes)
    for (const [prop, p] of Object.entries(schema.properties ?? {})) {
      if (Object.keys(p).length === 0) continue; // `value` of a table's put: any JSON, checked by the table
      const wrong = await peer.call(++id, op, { [prop]: { $ne: '' } });
      assert.equal(wrong.ok, false, `${op} accepted ${prop}: {$ne: ''}`);
      assert.match(wrong.error, new RegExp(`bad arguments: .*args/${prop}`), `${op}.${prop}`);
    }
    refused.push(op);
  }
  assert.equal(refused.length, Object.keys(schemas).length);
  // each refusal is logged with the operation
  for (const op of ['bridges.list', 'alarms.page', 'rules.sinks', 'trace.read']) {
    assert.ok(logsMatching(node, 'Admin operation from the cluster refused: bad arguments', (l) => l.op === op).length > 0, `${op} refusal logged`);
  }

  // a trace's file cannot be read outside the trace directory by name
  const escape = await peer.call(++id, 'trace.read', { name: '../../etc/passwd' });
  assert.match(escape.error, /trace\.read: bad arguments: args\/name must match pattern/);
  // no handler ran: a malformed ban did not land, the tables are as they were
  const bans = await peer.call(++id, 'banned.put', { id: 'clientid:x', value: { as: 'clientid', who: 'x' }, sneaky: true });
  assert.equal(bans.ok, false);
  const listed = await peer.call(++id, 'banned.list', null);
  assert.equal(listed.ok, true);
  assert.deepEqual(JSON.parse(listed.result.toString()), []);

  // well-formed calls are answered: the check is on arguments, not on the peer
  for (const op of ['node.info', 'bridges.list', 'rules.sinks', 'rules.metrics', 'monitor.current', 'trace.list', 'users.list']) {
    const r = await peer.call(++id, op, null);
    assert.equal(r.ok, true, `${op}: ${r.error}`);
  }
  const page = await peer.call(++id, 'alarms.page', { filters: { activated: true }, offset: 0, limit: 10 });
  assert.equal(page.ok, true, page.error);
  assert.equal(typeof (JSON.parse(page.result.toString()) as { count: number }).count, 'number');
  const samples = await peer.call(++id, 'monitor.samples', { latest: 60 });
  assert.equal(samples.ok, true, samples.error);
});

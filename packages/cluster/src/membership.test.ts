/** Membership decisions without processes: readiness, who may be dialled and admitted, join targets, autoclean, the saved file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Membership, MembershipError, REMOVED_REASON, type MembershipLinks } from './membership.js';
import type { Frame } from './wire.js';

const SELF = 'a@10.0.0.1';
const logger = pino({ level: 'silent' });

function links(): MembershipLinks & { dialled: [string, boolean][]; sent: [string, Frame][]; running_: Set<string>; aliases: Map<string, string> } {
  const running_ = new Set<string>();
  const aliases = new Map<string, string>();
  const dialled: [string, boolean][] = [];
  const sent: [string, Frame][] = [];
  return {
    self: SELF,
    strategy: 'static',
    advertise: () => '10.0.0.1:5370',
    rpcPort: () => 5370,
    running: () => running_,
    nodeAt: (addr) => aliases.get(addr),
    dial: (addr, join) => void dialled.push([addr, join]),
    send: (node, frame) => void sent.push([node, frame]),
    unlearn: () => {},
    leaveAll: async () => running_.clear(),
    dialled,
    sent,
    running_,
    aliases,
  };
}

test('readiness: not before discovery, alone when no candidate answers, not while one answers unjoined, yes once a peer runs', () => {
  const l = links();
  const m = new Membership(l, { autocleanMs: 0, logger });
  assert.equal(m.ready(), false, 'no discovery round yet');
  m.discovered(['10.0.0.1:5370']);
  assert.equal(m.ready(), true, 'only itself');
  m.discovered(['10.0.0.1:5370', '10.0.0.2:5370']);
  assert.equal(m.ready(), false, 'a candidate not tried yet');
  m.dialFailed('10.0.0.2:5370', '14 UNAVAILABLE');
  assert.equal(m.ready(), true, 'nobody there');
  m.dialRefused('10.0.0.2:5370', 'cookie mismatch');
  assert.equal(m.ready(), false, 'someone there, not joined');
  l.running_.add('b@10.0.0.2');
  assert.equal(m.ready(), true);
  m.close();
});

test('join targets: host:port as given, name@host on our cluster port, a running one refused, garbage refused', async () => {
  const l = links();
  const m = new Membership(l, { autocleanMs: 0, joinTimeoutMs: 200, logger });
  l.aliases.set('10.0.0.2:5370', 'b@10.0.0.2');
  l.running_.add('b@10.0.0.2');
  await assert.rejects(m.join('10.0.0.2:5370'), (e: MembershipError) => e.code === 'ALREADY_IN_CLUSTER');
  await assert.rejects(m.join('10.0.0.1:5370'), (e: MembershipError) => e.code === 'BAD_REQUEST');
  await assert.rejects(m.join('no port'), (e: MembershipError) => e.code === 'BAD_REQUEST' && /name@host or host:port/.test(e.message));
  await assert.rejects(m.join('10.0.0.3:99999'), (e: MembershipError) => e.code === 'BAD_REQUEST');
  // not leaving first (invite): dials c@10.0.0.3 on this node's cluster port, with the join flag
  const p = m.join('c@10.0.0.3', false);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(l.dialled, [['10.0.0.3:5370', true]]);
  m.dialFailed('10.0.0.3:5370', '14 UNAVAILABLE: No connection established');
  await assert.rejects(p, (e: MembershipError) => e.code === 'JOIN_FAILED' && /UNAVAILABLE/.test(e.message));
  m.close();
});

test('a removed node is refused unless it joins, and not dialled; leave sends forget and blocks dialling until a join', async () => {
  const l = links();
  const m = new Membership(l, { autocleanMs: 0, logger });
  m.seen('d@10.0.0.4', 'running', '10.0.0.4:5370');
  m.seen('d@10.0.0.4', 'down', undefined);
  l.running_.add('b@10.0.0.2');
  m.forceLeave('d@10.0.0.4');
  assert.deepEqual(l.sent, [['b@10.0.0.2', { members: { members: [], forget: ['d@10.0.0.4'] } }]]);
  assert.equal(
    m.status().members.some((x) => x.node === 'd@10.0.0.4'),
    false,
  );
  assert.equal(m.blocked('10.0.0.4:5370', false), true);
  assert.equal(m.admit('d@10.0.0.4', false, '10.0.0.4:5370'), REMOVED_REASON);
  assert.equal(m.admit('d@10.0.0.4', true, '10.0.0.4:5370'), undefined, 'an explicit join lets it back');
  assert.equal(m.blocked('10.0.0.4:5370', false), false);
  assert.throws(
    () => m.forceLeave(SELF),
    (e: MembershipError) => e.code === 'BAD_REQUEST',
  );
  assert.throws(
    () => m.forceLeave('x@y'),
    (e: MembershipError) => e.code === 'NOT_FOUND',
  );

  l.sent.length = 0;
  await m.leave();
  assert.deepEqual(l.sent, [['b@10.0.0.2', { members: { members: [], forget: [SELF] } }]]);
  assert.equal(m.status().left, true);
  assert.equal(m.blocked('10.0.0.2:5370', false), true, 'a node that left dials no one');
  assert.equal(m.admit('e@10.0.0.5', false, '10.0.0.5:5370'), undefined, 'but may be invited');
  assert.equal(m.blocked('10.0.0.5:5370', false), false, 'and dials its inviter back');
  m.close();
});

test('autoclean drops a node not running for that long, and the saved file follows; a restart rejoins the saved peers', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-members-'));
  try {
    const file = path.join(dir, 'cluster.json');
    const l = links();
    const m = new Membership(l, { file, autocleanMs: 300, logger });
    m.seen('b@10.0.0.2', 'running', '10.0.0.2:5370');
    m.seen('c@10.0.0.3', 'running', '10.0.0.3:5370');
    assert.deepEqual(
      (JSON.parse(readFileSync(file, 'utf8')) as { peers: { node: string }[] }).peers.map((p) => p.node),
      ['b@10.0.0.2', 'c@10.0.0.3'],
    );
    m.seen('c@10.0.0.3', 'down', undefined);
    assert.deepEqual(m.status().down_nodes, ['c@10.0.0.3']);
    assert.deepEqual(m.extraCandidates(), ['10.0.0.3:5370']);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(m.status().down_nodes, []);
    assert.deepEqual(m.extraCandidates(), []);
    assert.deepEqual(
      (JSON.parse(readFileSync(file, 'utf8')) as { peers: { node: string }[] }).peers.map((p) => p.node),
      ['b@10.0.0.2'],
    );
    m.close();
    const again = new Membership(links(), { file, autocleanMs: 0, logger });
    assert.deepEqual(again.extraCandidates(), ['10.0.0.2:5370']);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a members frame: unknown members are dialled (as a join), a forgotten node is removed, our own name makes us leave', async () => {
  const l = links();
  const m = new Membership(l, { autocleanMs: 0, logger });
  l.running_.add('b@10.0.0.2');
  m.seen('b@10.0.0.2', 'running', '10.0.0.2:5370');
  m.seen('d@10.0.0.4', 'running', '10.0.0.4:5370');
  m.seen('d@10.0.0.4', 'down', undefined);
  m.receive('b@10.0.0.2', {
    members: [
      { node: 'b@10.0.0.2', addr: '10.0.0.2:5370' },
      { node: SELF, addr: '10.0.0.1:5370' },
      { node: 'c@10.0.0.3', addr: '10.0.0.3:5370' },
    ],
    forget: ['d@10.0.0.4'],
  });
  assert.deepEqual(l.dialled, [['10.0.0.3:5370', true]]);
  assert.deepEqual(
    m.status().members.map((x) => x.node),
    [SELF, 'b@10.0.0.2'],
  );
  assert.equal(m.admit('d@10.0.0.4', false, '10.0.0.4:5370'), REMOVED_REASON);
  // force-left by b while running: we leave, telling every peer
  m.receive('b@10.0.0.2', { members: [], forget: [SELF] });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(m.status().left, true);
  assert.deepEqual(l.sent.at(-1), ['b@10.0.0.2', { members: { members: [], forget: [SELF] } }]);
  m.close();
});

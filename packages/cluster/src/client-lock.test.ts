import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ClientLock } from './client-lock.js';

const logger = pino({ level: 'silent' });

function lockFor(node: string, autoheal = true): { lock: ClientLock; discarded: string[] } {
  const discarded: string[] = [];
  const lock = new ClientLock({ node, autoheal, logger, discardLocal: (id) => discarded.push(id) });
  return { lock, discarded };
}

/** Delivers `from`'s pending claims to `to`, as the routes stream does. */
function ship(from: ClientLock, fromNode: string, to: ClientLock): void {
  const d = from.takeDelta();
  to.receive(fromNode, d.add, d.stamps, d.del, false);
}

test('two nodes claiming one clientid at once: both pick the same winner, only the loser discards', () => {
  for (let round = 0; round < 50; round++) {
    const a = lockFor('a@h');
    const b = lockFor('b@h');
    a.lock.claim('c');
    b.lock.claim('c');
    ship(a.lock, 'a@h', b.lock);
    ship(b.lock, 'b@h', a.lock);
    assert.equal(a.discarded.length + b.discarded.length, 1, `round ${round}: exactly one side discards`);
    const winner = a.discarded.length === 0 ? a.lock : b.lock;
    assert.ok(winner.stamp('c') !== undefined);
  }
});

test('a claim made after hearing of another node’s claim is newer, whatever the clocks say', () => {
  const a = lockFor('a@h');
  const b = lockFor('b@h');
  // a's clock far ahead: its stamp is in the future for b
  a.lock.claim('c');
  const d = a.lock.takeDelta();
  d.stamps[0] = Date.now() * 1000 + 60_000_000;
  b.lock.receive('a@h', d.add, d.stamps, d.del, false);
  assert.equal(b.lock.ownerElsewhere('c'), 'a@h', 'the session is on a: take it from there');
  b.lock.claim('c'); // after the takeover
  assert.ok(b.lock.stamp('c')! > d.stamps[0]!);
  a.lock.yieldTo('c');
  ship(b.lock, 'b@h', a.lock);
  assert.deepEqual(a.discarded, [], 'the node that handed the session over has nothing to discard');
});

test('a release and a new claim in one batch arrive as the claim (last change wins)', () => {
  const a = lockFor('a@h');
  const b = lockFor('b@h');
  a.lock.claim('c');
  ship(a.lock, 'a@h', b.lock);
  a.lock.release('c');
  a.lock.claim('c');
  ship(a.lock, 'a@h', b.lock);
  assert.equal(b.lock.ownerElsewhere('c'), 'a@h');
  a.lock.release('c');
  ship(a.lock, 'a@h', b.lock);
  assert.equal(b.lock.ownerElsewhere('c'), undefined);
});

test('autoheal: a snapshot with a newer claim discards the local session; off, it only warns', () => {
  for (const autoheal of [true, false]) {
    const a = lockFor('a@h', autoheal);
    a.lock.claim('old');
    const later = Date.now() * 1000 + 5_000_000;
    a.lock.receive('b@h', ['old', 'other'], [later, later], [], true);
    assert.deepEqual(a.discarded, autoheal ? ['old'] : []);
  }
});

test('a session restored from disk loses to any live claim', () => {
  const a = lockFor('a@h');
  const snap = a.lock.snapshot(['restored']);
  assert.deepEqual(snap, { add: ['restored'], stamps: [1] });
  a.lock.receive('b@h', ['restored'], [Date.now() * 1000], [], false);
  assert.deepEqual(a.discarded, ['restored']);
});

test('the registry: the newest claim owns a clientid; when it goes, the next newest does', () => {
  const a = lockFor('a@h');
  a.lock.receive('b@h', ['c'], [10], [], false);
  a.lock.receive('c@h', ['c'], [20], [], false);
  a.lock.receive('b@h', ['c'], [5], [], false); // b's own later report replaces b's earlier one only
  assert.equal(a.lock.ownerElsewhere('c'), 'c@h');
  a.lock.registry.purge('c@h');
  assert.equal(a.lock.ownerElsewhere('c'), 'b@h');
  a.lock.receive('b@h', [], [], ['c'], false);
  assert.equal(a.lock.ownerElsewhere('c'), undefined);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Acl, AclError, filterCovers } from './acl.js';
import { filtersOverlap, matchName } from './acl-topics.js';
import { topicMatches } from '@vireo/mqtt';
import { BanList } from './banned.js';
import { BuiltinUsers } from './builtin-users.js';
import { MemoryRecordTables } from './record-table.js';
import type { ClientInfo } from '@vireo/broker';

const client = (clientId: string, username?: string): ClientInfo => ({ clientId, username, peer: '10.1.2.3:5000', protocolVersion: 5, listener: 'tcp:default' });

test('a subscription is inside a rule filter only when every topic it matches is', () => {
  assert.equal(filterCovers('a/#', 'a/+'), true);
  assert.equal(filterCovers('a/#', 'a'), true);
  assert.equal(filterCovers('a/+', 'a/b'), true);
  assert.equal(filterCovers('a/+', 'a/#'), false);
  assert.equal(filterCovers('a/+', 'a/b/c'), false);
  assert.equal(filterCovers('#', '$SYS/x'), false);
  assert.equal(filterCovers('+/x', 'a/+'), false);
});

test('rules: first match decides; who, action, %u/%c, eq, ipaddr, re, and/or', () => {
  const acl = Acl.compile(
    [
      { permission: 'deny', who: { and: [{ username: { re: '^guest' } }, { ipaddr: '10.0.0.0/8' }] }, action: 'publish' },
      { permission: 'allow', action: 'publish', topics: ['u/%u/#', 'c/%c'] },
      { permission: 'allow', action: 'subscribe', topics: [{ eq: 'all/#' }] },
      { permission: 'deny', who: { or: [{ clientid: 'x' }, { ipaddrs: ['192.168.0.0/16'] }] } },
    ],
    't',
  );
  const ip = '10.1.2.3';
  assert.equal(acl.check(client('c1', 'alice'), ip, 'publish', 'u/alice/t'), 'allow');
  assert.equal(acl.check(client('c1', 'alice'), ip, 'publish', 'u/bob/t'), 'nomatch');
  assert.equal(acl.check(client('c1'), ip, 'publish', 'u/undefined/t'), 'nomatch');
  assert.equal(acl.check(client('c1', 'guest7'), ip, 'publish', 'u/guest7/t'), 'deny');
  assert.equal(acl.check(client('c1', 'guest7'), '172.16.0.1', 'publish', 'u/guest7/t'), 'allow');
  assert.equal(acl.check(client('c1'), ip, 'publish', 'c/c1'), 'allow');
  assert.equal(acl.check(client('c1'), ip, 'subscribe', 'all/#'), 'allow');
  assert.equal(acl.check(client('c1'), ip, 'subscribe', 'all/x'), 'nomatch');
  assert.equal(acl.check(client('x'), ip, 'subscribe', 'any'), 'deny');
  assert.equal(acl.check(client('y'), '192.168.1.1', 'subscribe', 'any'), 'deny');
  assert.equal(acl.usesAddress, true);
  assert.equal(Acl.compile([{ permission: 'allow', who: { username: 'ipaddr' } }], 'f').usesAddress, false);
  assert.throws(() => Acl.compile([{ permission: 'allow', who: { ipaddr: '10.0.0.0/33' } }], 'f'), AclError);
  assert.throws(() => Acl.compile([{ permission: 'allow', topics: ['a/#/b'] }], 'f'), /f: rule 1: topic a\/#\/b/);
  assert.throws(() => Acl.compile({ rules: [] }, 'f'), /expected a list of rules/);
});

test('matchName (a filter split once) decides as topicMatches does', () => {
  const filters = ['#', '+', 'a', 'a/#', 'a/+', '+/b', 'a/b', 'a/+/c', '+/+', '$SYS/#', '$SYS/+', 'a//b', 'a/', '+/#'];
  const topics = ['a', 'a/b', 'a/b/c', 'b', '', 'a/', '/a', 'a//b', '$SYS/x', '$SYS', 'ab', 'a/bc', 'a/b/'];
  for (const f of filters) for (const t of topics) assert.equal(matchName(f.split('/'), t), topicMatches(f, t), `${f} ~ ${t}`);
});

test('two filters overlap when some topic matches both', () => {
  for (const [a, b, want] of [
    ['#', 'secret/plans', true],
    ['+/+', 'secret/#', true],
    ['a/#', 'a', true],
    ['a/+', 'a', false],
    ['a/+/c', 'a/b/+', true],
    ['a/+/c', 'a/b/d', false],
    ['#', '$SYS/#', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/+', '$SYS/#', true],
  ] as const) {
    assert.equal(filtersOverlap(a, b), want, `${a} ∩ ${b}`);
    assert.equal(filtersOverlap(b, a), want, `${b} ∩ ${a}`);
  }
});

test('placeholders: ${username}/${clientid} beside %u/%c; a value with + or # makes the rule not apply', () => {
  const acl = Acl.compile(
    [
      { permission: 'allow', action: 'publish', topics: ['devices/${clientid}/#', 'u/%u'] },
      { permission: 'allow', action: 'subscribe', topics: ['cmd/${username}', 'c/%c/#'] },
      { permission: 'deny', action: 'subscribe', topics: ['cmd/#', 'c/#'] },
    ],
    't',
  );
  const ip = '';
  assert.equal(acl.check(client('d1'), ip, 'publish', 'devices/d1/x'), 'allow');
  assert.equal(acl.check(client('+'), ip, 'publish', 'devices/d1/x'), 'nomatch');
  assert.equal(acl.check(client('#'), ip, 'publish', 'devices/d1/x'), 'nomatch');
  assert.equal(acl.check(client('a+b'), ip, 'publish', 'devices/a+b/x'), 'nomatch');
  assert.equal(acl.check(client('x', '#'), ip, 'publish', 'u/anything'), 'nomatch');
  assert.equal(acl.check(client('x', 'alice'), ip, 'subscribe', 'cmd/alice'), 'allow');
  assert.equal(acl.check(client('x', '#'), ip, 'subscribe', 'cmd/alice'), 'deny');
  assert.equal(acl.check(client('x', '+'), ip, 'subscribe', 'cmd/+'), 'deny');
  assert.equal(acl.check(client('#'), ip, 'subscribe', 'c/other/x'), 'deny');
  assert.throws(() => Acl.compile([{ permission: 'allow', topics: ['a/${peerhost}'] }], 'f'), /f: rule 1: topic a\/\$\{peerhost\}: unknown placeholder/);
});

test('subscribe denies: which subscriptions get a delivery check, and what it decides per topic', () => {
  const acl = Acl.compile(
    [
      { permission: 'allow', action: 'subscribe', topics: ['secret/public/#'] },
      { permission: 'deny', action: 'subscribe', topics: ['secret/#', { eq: '#' }] },
      { permission: 'deny', who: { username: 'guest' }, action: 'subscribe', topics: ['private/#'] },
      { permission: 'allow', action: 'subscribe' },
    ],
    't',
  );
  assert.equal(acl.hasSubscribeDeny, true);
  const bob = client('b', 'bob');
  const guest = client('g', 'guest');
  assert.equal(acl.overlapsDeny(bob, '', '+/plans'), true);
  assert.equal(acl.overlapsDeny(bob, '', '$share/g/+/plans'), true);
  assert.equal(acl.overlapsDeny(bob, '', 'public/#'), false);
  assert.equal(acl.overlapsDeny(bob, '', 'secret/plans'), false); // no wildcard: decided at subscribe
  assert.equal(acl.overlapsDeny(bob, '', 'private/+'), false);
  assert.equal(acl.overlapsDeny(guest, '', 'private/+'), true);
  assert.equal(acl.checkDelivery(bob, '', 'secret/plans'), 'deny');
  assert.equal(acl.checkDelivery(bob, '', 'secret/public/news'), 'allow');
  assert.equal(acl.checkDelivery(bob, '', 'private/x'), 'allow');
  assert.equal(acl.checkDelivery(guest, '', 'private/x'), 'deny');
  // unknown identity (a stored session not yet reconnected): rules on the username are taken at their strictest
  assert.equal(acl.checkDelivery({ clientId: 'b' }, undefined, 'private/x'), 'deny');
  assert.equal(acl.checkDelivery({ clientId: 'b' }, undefined, 'public/x'), 'allow');
  // an eq deny with wildcards is about that filter only: no topic name matches it
  assert.equal(Acl.compile([{ permission: 'deny', action: 'subscribe', topics: [{ eq: '#' }, { eq: '+/#' }] }], 't').hasSubscribeDeny, false);
});

test('users: salted hashes per algorithm, superuser flag, unknown users; bans expire', async () => {
  const tables = new MemoryRecordTables();
  for (const algorithm of [
    { name: 'pbkdf2', mac_fun: 'sha256', iterations: 10, dk_length: 32 },
    { name: 'sha256', salt_position: 'prefix' },
    { name: 'sha512', salt_position: 'suffix' },
  ] as const) {
    const users = new BuiltinUsers(tables.table(`users-${algorithm.name}`), algorithm);
    await users.add('alice', 'pw', true);
    assert.deepEqual(await users.check('alice', Buffer.from('pw')), { ok: true, isSuperuser: true });
    assert.deepEqual(await users.check('alice', Buffer.from('pW')), { ok: false, reason: 'bad_password' });
    assert.deepEqual(await users.check('bob', Buffer.from('pw')), { ok: false, reason: 'not_found' });
    // what a restart reads back
    const again = new BuiltinUsers(tables.table(`users-${algorithm.name}`), algorithm);
    assert.deepEqual(await again.check('alice', Buffer.from('pw')), { ok: true, isSuperuser: true });
    assert.equal(tables.table(`users-${algorithm.name}`).entries()[0][1].includes('"pw"'), false);
  }
  const bans = new BanList(tables.table('banned'));
  const now = Date.now();
  bans.add({ as: 'peerhost', who: '10.0.0.9', by: 't', reason: '', at: now, until: now + 1000 });
  bans.add({ as: 'username', who: 'eve', by: 't', reason: '', at: now, until: Infinity });
  assert.equal(bans.find('c', undefined, '10.0.0.9', now)?.as, 'peerhost');
  assert.equal(bans.find('c', undefined, '10.0.0.9', now + 1000), undefined);
  assert.equal(bans.find('c', 'eve', '1.1.1.1', now + 1e12)?.as, 'username');
  assert.equal(bans.purgeExpired(now + 1000), 1);
  assert.deepEqual(
    new BanList(tables.table('banned')).list().map((b) => [b.who, b.until]),
    [['eve', Infinity]],
  );
});

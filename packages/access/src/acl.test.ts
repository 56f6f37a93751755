import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Acl, AclError, filterCovers } from './acl.js';
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
  assert.deepEqual(new BanList(tables.table('banned')).list().map((b) => [b.who, b.until]), [['eve', Infinity]]);
});

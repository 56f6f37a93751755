import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientInfo } from '@vireo/broker';
import { AclError } from '../acl.js';
import { clientAcl } from './client-acl.js';

const c = (clientId: string, username?: string): ClientInfo => ({ clientId, username, peer: '10.1.2.3:5000', protocolVersion: 5, listener: 'tcp:default' });

test("client rules, EMQX's list: topic/topics, eq, qos, retain, clientid_re/username_re/ipaddr; no match goes on", () => {
  const acl = clientAcl(
    [
      { permission: 'allow', action: 'publish', topic: 'up/${clientid}', qos: [0, 1] },
      { permission: 'deny', action: 'publish', topics: ['state/#'], retain: true },
      { permission: 'allow', action: 'sub', topic: 'eq cmd/${username}' },
      { permission: 'deny', action: 'all', topic: 'lab/#', username_re: '^guest', ipaddr: '10.0.0.0/8' },
    ],
    'acl',
  );
  const d = c('d1', 'guest-1');
  assert.equal(acl.check(d, '', 'publish', 'up/d1', 1, false), 'allow');
  assert.equal(acl.check(d, '', 'publish', 'up/d1', 2, false), 'nomatch');
  // QoS not known (an embedder's call): an allow with a QoS condition does not apply
  assert.equal(acl.check(d, '', 'publish', 'up/d1'), 'nomatch');
  assert.equal(acl.check(d, '', 'publish', 'state/x', 0, true), 'deny');
  assert.equal(acl.check(d, '', 'publish', 'state/x', 0, false), 'nomatch');
  assert.equal(acl.check(d, '', 'subscribe', 'cmd/${username}', 1), 'allow');
  assert.equal(acl.check(d, '', 'subscribe', 'cmd/guest-1', 1), 'nomatch');
  // (a client's who results are worked out once per connection: a new ClientInfo per address)
  assert.equal(acl.check(c('d1', 'guest-1'), '10.1.2.3', 'subscribe', 'lab/x', 0), 'deny');
  assert.equal(acl.check(c('d1', 'guest-1'), '192.0.2.1', 'subscribe', 'lab/x', 0), 'nomatch');
  assert.equal(acl.check(c('d2', 'admin'), '10.1.2.3', 'subscribe', 'lab/x', 0), 'nomatch');
});

test('client rules, the older {pub, sub, all}: a whitelist, anything else denied', () => {
  const acl = clientAcl({ pub: ['up/${clientid}'], sub: ['down/#', 'eq raw/#'], all: ['both/+'] }, 'acl claim');
  const d = c('d1');
  assert.equal(acl.check(d, '', 'publish', 'up/d1', 1, false), 'allow');
  assert.equal(acl.check(d, '', 'publish', 'up/d2', 1, false), 'deny');
  assert.equal(acl.check(d, '', 'subscribe', 'down/a/b', 1), 'allow');
  assert.equal(acl.check(d, '', 'subscribe', 'raw/#', 1), 'allow');
  assert.equal(acl.check(d, '', 'subscribe', 'raw/x', 1), 'deny');
  assert.equal(acl.check(d, '', 'publish', 'both/x', 0, false), 'allow');
  assert.equal(acl.check(d, '', 'subscribe', 'both/x', 0), 'allow');
  assert.equal(acl.check(d, '', 'subscribe', 'elsewhere', 0), 'deny');
});

test('client rules that are not rules: an error naming the entry and field', () => {
  const bad: [unknown, RegExp][] = [
    ['allow all', /acl: expected a list of rules or \{pub, sub, all\}/],
    [[{ permission: 'allow', action: 'publish' }], /acl: rule 1: topic is required/],
    [[{ permission: 'maybe', topic: 't' }], /acl: rule 1: permission must be allow or deny/],
    [[{ permission: 'allow', topic: 't', zone: 'z1' }], /acl: rule 1: unknown field zone/],
    [[{ permission: 'allow', topic: 't', qos: [3] }], /acl: rule 1: qos must be 0, 1, 2/],
    [[{ permission: 'allow', topic: 't', retain: 'yes' }], /acl: rule 1: retain must be true or false/],
    [[{ permission: 'allow', topic: 'a/#/b' }], /acl: rule 1: topic a\/#\/b/],
    [{ pub: ['a'], publish: ['b'] }, /acl: unknown key publish/],
    [{ pub: 'a' }, /acl: pub: expected a list of topics/],
  ];
  for (const [raw, re] of bad)
    assert.throws(
      () => clientAcl(raw, 'acl'),
      (e: Error) => e instanceof AclError && re.test(e.message),
      JSON.stringify(raw),
    );
});

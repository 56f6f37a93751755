import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIp, formatNet, netContains, parseNet } from './cidr.js';
import { BanList } from './banned.js';
import { MemoryRecordTables } from './record-table.js';

test('addresses in one spelling; networks with host bits cleared; containment across spellings', () => {
  assert.equal(canonicalIp('2001:DB8:0:0::1'), '2001:db8::1');
  assert.equal(canonicalIp('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(canonicalIp('::FFFF:0a01:0203'), '10.1.2.3');
  assert.equal(canonicalIp('1.2.3.4'), '1.2.3.4');
  assert.equal(canonicalIp('1.2.3'), undefined);
  const fmt = (c: string) => {
    const n = parseNet(c);
    return n && formatNet(n);
  };
  assert.equal(fmt('10.1.2.3/8'), '10.0.0.0/8');
  assert.equal(fmt('2001:db8:ff::1/32'), '2001:db8::/32');
  assert.equal(fmt('1.2.3.4'), '1.2.3.4/32');
  assert.equal(fmt('10.0.0.0/33'), undefined);
  assert.equal(fmt('2001:db8::/129'), undefined);
  assert.equal(fmt('10.0.0.0/x'), undefined);
  assert.equal(netContains(parseNet('2001:db8::/32')!, '2001:DB8:1::5'), true);
  assert.equal(netContains(parseNet('2001:db8::/32')!, '2001:db9::1'), false);
  assert.equal(netContains(parseNet('10.0.0.0/8')!, '::ffff:10.9.9.9'), true);
  assert.equal(netContains(parseNet('10.0.0.0/9')!, '10.200.0.1'), false);
  assert.equal(netContains(parseNet('0.0.0.0/0')!, '8.8.8.8'), true);
  assert.equal(netContains(parseNet('0.0.0.0/0')!, '::1'), false);
});

test('bans by network and by address hold for any spelling, and survive a restart', () => {
  const tables = new MemoryRecordTables();
  const bans = new BanList(tables.table('banned'));
  const now = Date.now();
  assert.equal(bans.add({ as: 'peerhost_net', who: '192.168.7.9/16', by: 't', reason: '', at: now, until: Infinity }).who, '192.168.0.0/16');
  bans.add({ as: 'peerhost', who: '2001:0DB8::0001', by: 't', reason: '', at: now, until: Infinity });
  assert.throws(() => bans.add({ as: 'peerhost_net', who: '192.168.0.0/40', by: 't', reason: '', at: now, until: Infinity }), /not a network/);
  const again = new BanList(tables.table('banned'));
  assert.equal(again.find('c', undefined, '::ffff:192.168.200.1')?.who, '192.168.0.0/16');
  assert.equal(again.find('c', undefined, '2001:db8::1')?.as, 'peerhost');
  assert.equal(again.find('c', undefined, '192.169.0.1'), undefined);
  assert.equal(again.delete('peerhost_net', '192.168.255.255/16'), true);
  assert.equal(again.find('c', undefined, '192.168.200.1'), undefined);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { ClientInfo } from '@vireo/broker';
import { AuthnExpiry } from './expiry.js';

const info = (clientId: string): ClientInfo => ({ clientId, username: undefined, peer: '127.0.0.1:1', protocolVersion: 5, listener: 'tcp:default' });
const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('authentication expiry: the connection is closed at its time; a newer connection of the same client id is not cut by the old time', async () => {
  const closed: ClientInfo[] = [];
  const x = new AuthnExpiry((i) => (closed.push(i), true), pino({ level: 'silent' }));
  try {
    const first = info('c1');
    x.arm(first, Date.now() + 50);
    // the client connects again (takeover) with a later end before the first one's time
    const second = info('c1');
    x.arm(second, Date.now() + 300);
    x.disarm(first); // the first connection's disconnect comes after the second's connect
    assert.equal(x.size, 1);
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual(closed, [], 'the first time passed: nothing closed');
    await until(() => closed.length === 1);
    assert.equal(closed[0], second);
    // a client that disconnects before its time is left alone
    const third = info('c3');
    x.arm(third, Date.now() + 30);
    x.disarm(third);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(closed.length, 1);
    // an end already past closes at once
    x.arm(info('c4'), Date.now() - 1000);
    await until(() => closed.length === 2);
    assert.equal(x.size, 0);
  } finally {
    x.close();
  }
});

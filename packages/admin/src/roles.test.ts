import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowed } from './roles.js';
import { AuthThrottle } from './auth-throttle.js';

test('roles: administrator everything, viewer reads (and its own password), publisher only publishes', () => {
  const r = (method: string, route: string, params?: Record<string, string>, actor?: string) => ({ method, route, params, actor });
  assert.equal(allowed('administrator', r('DELETE', '/api/v5/banned/:as/:who')), true);
  assert.equal(allowed('viewer', r('GET', '/api/v5/clients')), true);
  assert.equal(allowed('viewer', r('head', '/api/v5/clients')), true);
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) assert.equal(allowed('viewer', r(m, '/api/v5/clients/:clientid')), false, m);
  assert.equal(allowed('viewer', r('POST', '/api/v5/publish')), false);
  assert.equal(allowed('viewer', r('POST', '/api/v5/logout')), true);
  assert.equal(allowed('viewer', r('POST', '/api/v5/users/:username/change_pwd', { username: 'amy' }, 'amy')), true);
  assert.equal(allowed('viewer', r('POST', '/api/v5/users/:username/change_pwd', { username: 'admin' }, 'amy')), false);
  assert.equal(allowed('publisher', r('POST', '/api/v5/publish')), true);
  assert.equal(allowed('publisher', r('POST', '/api/v5/publish/bulk')), true);
  assert.equal(allowed('publisher', r('GET', '/api/v5/clients')), false);
  assert.equal(allowed('publisher', r('POST', '/api/v5/api_key')), false);
  assert.equal(allowed('nobody' as 'viewer', r('GET', '/api/v5/clients')), false);
});

test('auth throttle: limit failures per window and address, then a wait until the window ends', () => {
  let now = 1_000_000;
  const t = new AuthThrottle({ limit: 3, windowMs: 10_000, maxAddresses: 2, now: () => now });
  assert.equal(t.failed('a'), false);
  assert.equal(t.failed('a'), false);
  assert.equal(t.retryAfter('a'), 0);
  assert.equal(t.failed('a'), true, 'reported once, when it goes over');
  assert.equal(t.retryAfter('a'), 10);
  assert.equal(t.retryAfter('b'), 0, 'per address');
  now += 9_500;
  assert.equal(t.retryAfter('a'), 1);
  now += 500;
  assert.equal(t.retryAfter('a'), 0, 'a new window');
  // bounded: a third address pushes out the oldest
  t.failed('x');
  t.failed('y');
  t.failed('z');
  assert.ok((t as unknown as { windows: Map<string, unknown> }).windows.size <= 2);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createBroker } from '@vireo/broker';
import { adminOps } from './admin-ops.js';

test('admin operations from peers: arguments checked against the HTTP route schemas before any handler runs', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-ops-'));
  const broker = await createBroker({ nodeName: 'ops@test', listeners: [], logger: pino({ level: 'silent' }), traceDir: dir });
  try {
    let reached = 0;
    const ops = adminOps(broker, new Registry(), { 'x.put': () => reached++ }, { 'x.put': { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } });
    const end = Date.now() + 60_000;
    // a trace aimed at /etc, the way the attacker sent it: refused, nothing written
    await assert.rejects(
      ops('trace.start', { name: 'pwn', type: 'topic', filter: '#', file: '/etc/vireo-pwned', endAt: end, maxBytes: 4096 }),
      /trace\.start: bad arguments: .*additional properties/,
    );
    assert.equal(existsSync('/etc/vireo-pwned'), false);
    assert.deepEqual(broker.tracer.list(), []);
    await assert.rejects(ops('trace.start', { name: '../x', type: 'topic', filter: '#', endAt: end, maxBytes: 4096 }), /must match pattern/);
    await assert.rejects(ops('trace.start', { name: 'big', type: 'topic', filter: '#', endAt: end, maxBytes: 2 ** 40 }), /maxBytes must be <=/);
    await assert.rejects(ops('trace.start', { name: 'k', type: 'shell', filter: '#', endAt: end, maxBytes: 4096 }), /type must be equal to one of/);
    // the same call, well formed, starts the trace in the trace directory
    const ok = (await ops('trace.start', { name: 'fine', type: 'topic', filter: '#', endAt: end, maxBytes: 4096 })) as { trace: { file: string } };
    assert.equal(ok.trace.file, path.join(dir, 'fine.log'));
    // client and paging ops: types as the HTTP schemas say
    await assert.rejects(ops('client.kick', { clientid: 42 }), /clientid must be string/);
    await assert.rejects(ops('client.subscribe', { clientid: 'c', topic: 't', qos: 3, nl: 0, rap: 0, rh: 0 }), /qos must be <= 2/);
    await assert.rejects(ops('clients.page', { filters: { conn_state: 'weird' }, offset: 0, limit: 10 }), /conn_state must be equal to one of/);
    await assert.rejects(ops('clients.page', { filters: {}, offset: -1, limit: 10 }), /offset must be >= 0/);
    assert.equal(((await ops('clients.page', { filters: {}, offset: 0, limit: 10 })) as { count: number }).count, 0);
    // an extra op's schema: checked too, and the handler is not reached
    await assert.rejects(ops('x.put', { id: 1 }), /id must be string/);
    assert.equal(reached, 0);
    await ops('x.put', { id: 'a' });
    assert.equal(reached, 1);
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

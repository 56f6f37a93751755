/**
 * Traces on a real node write only to `<data_dir>/trace/<name>.log`: a trace aimed at
 * /etc, or named to climb out of the directory, is refused; at most 30 traces; the size
 * cap counts bytes as written (UTF-8), not characters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, endAll, waitFor } from './harness.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import { apiNodeEnv } from './api-node.js';

const T = { timeout: 120_000 };

test('traces: /etc and ../ refused, only <data_dir>/trace/<name>.log, 30 at most, caps in bytes', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-tracelim-'));
  const { mqttPort, httpPort, env: base } = await apiNodeEnv(dir);
  const data = path.join(dir, 'data');
  let vireo: VireoProcess | undefined;
  try {
    vireo = spawnVireo({ env: { ...base, VIREO_NODE__DATA_DIR: data } });
    await vireo.waitForLog('HTTP API listening', 15_000);
    await vireo.waitForLog('started'); // the MQTT listeners open last (after the start-up warm-up)
    const api = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/api/v5${p}`, {
        method,
        headers: { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };

    // aimed at /etc: refused, nothing written there
    const etc = await api('POST', '/trace', { name: 'pwn', type: 'topic', topic: '#', file: '/etc/vireo-pwned.log' });
    assert.equal(etc.status, 400);
    assert.match(String(etc.body.message), /^file: traces are written to <data_dir>\/trace\/pwn\.log/);
    assert.equal(existsSync('/etc/vireo-pwned.log'), false);
    // a name that would climb out of the directory
    for (const name of ['../../etc/passwd', '..', '.hidden', 'a/b']) {
      const r = await api('POST', '/trace', { name, type: 'topic', topic: '#' });
      assert.equal(r.status, 400, name);
    }
    assert.deepEqual(
      await fetch(`http://127.0.0.1:${httpPort}/api/v5/trace`, { headers: { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` } }).then((r) => r.json()),
      [],
    );

    // the cap counts bytes: 3-byte characters fill a 1 KiB cap three times faster than ASCII
    const started = await api('POST', '/trace', { name: 'euro', type: 'topic', topic: 'eu/#', max_bytes: 1024 });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const file = path.join(data, 'trace', 'euro.log');
    assert.equal(started.body.file, file);
    const c = await connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'euro-pub' });
    try {
      for (let i = 0; i < 40; i++) await c.publishAsync('eu/x', '€'.repeat(60), { qos: 1 });
    } finally {
      await endAll(c);
    }
    await waitFor(() => existsSync(file) && statSync(file).size > 0, 'the trace file');
    const [t] = (await fetch(`http://127.0.0.1:${httpPort}/api/v5/trace`, { headers: { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` } }).then((r) =>
      r.json(),
    )) as {
      status: string;
      stop_reason: string;
    }[];
    assert.equal(t!.status, 'stopped');
    assert.equal(t!.stop_reason, 'max_bytes');
    assert.ok(statSync(file).size <= 1024, `file is ${statSync(file).size} bytes for a 1024-byte cap`);

    // 30 traces at most (running or stopped), then 409; one deleted makes room
    for (let i = 1; i < 30; i++) assert.equal((await api('POST', '/trace', { name: `t${i}`, type: 'clientid', clientid: `c${i}` })).status, 200, `trace ${i}`);
    const over = await api('POST', '/trace', { name: 't30', type: 'clientid', clientid: 'c30' });
    assert.deepEqual([over.status, over.body.code], [409, 'EXCEED_LIMIT']);
    assert.equal((await api('DELETE', '/trace/t1')).status, 204);
    assert.equal((await api('POST', '/trace', { name: 't30', type: 'clientid', clientid: 'c30' })).status, 200);
    // every file in the one directory, named after its trace
    assert.ok(readdirSync(path.join(data, 'trace')).every((f) => /^(euro|t\d+)\.log$/.test(f)));
  } finally {
    vireo?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

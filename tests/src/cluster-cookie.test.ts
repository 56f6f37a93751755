/**
 * The cluster cookie at start-up, on real processes: a published or short cookie stops
 * the node naming `node.cookie`; without one the node generates its own into the data dir
 * (0600), a node with another cookie is refused, and a node given the same file joins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './harness.js';
import { spawnVireo } from './vireo-process.js';
import { startNode, waitLog, waitMembers, type ClusterNode } from './cluster-nodes.js';

const T = { timeout: 120_000 };

test('a published, placeholder or short cookie stops start-up naming node.cookie (and never printing it)', T, async () => {
  for (const cookie of ['vireosecretcookie', 'change-me-compose-cookie', 'change-me-cluster-cookie', 'short-cookie']) {
    const p = spawnVireo({
      env: {
        VIREO_NODE__COOKIE: cookie,
        VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${await freePort()}`,
        VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
        VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      },
    });
    const exit = await p.waitExit(15_000);
    assert.equal(exit.code, 2, `${cookie}: ${p.stderr()}`);
    assert.match(p.stderr(), /node\.cookie: /, cookie);
    assert.ok(!p.stderr().includes(cookie) && !p.stdout().includes(cookie), `${cookie} was printed`);
  }
});

test('no cookie: the node writes one to <data_dir>/cookie (0600); another cookie is refused, the same file joins', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-cookie-'));
  const nodes: ClusterNode[] = [];
  try {
    const rpc = [await freePort(), await freePort(), await freePort()];
    const data = [0, 1, 2].map((i) => path.join(dir, `n${i}`));
    const spec = (i: number, cookie: string | undefined) => ({
      name: `ck${i}@127.0.0.1`,
      rpcPort: rpc[i]!,
      seeds: [rpc[0]!],
      cookie,
      extraEnv: { VIREO_NODE__DATA_DIR: data[i]!, ...(cookie === undefined ? { VIREO_NODE__COOKIE: '' } : {}) },
    });
    const a = startNode({ ...spec(0, undefined), mqttPort: await freePort() });
    nodes.push(a);
    const made = await waitLog(a, 'generated a random cluster cookie');
    const file = path.join(data[0]!, 'cookie');
    assert.equal(made.file, file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const cookie = readFileSync(file, 'utf8').trim();
    assert.ok(cookie.length >= 32, 'a long random cookie');
    assert.ok(!a.proc.stdout().includes(cookie), 'the cookie is not logged');
    await a.proc.waitForLog('started', 15_000);

    // a second node with a cookie of its own: refused, on both sides
    const b = startNode({ ...spec(1, 'some-other-cluster-cookie'), mqttPort: await freePort() });
    nodes.push(b);
    await waitLog(b, 'Refused by cluster peer', () => true, 20_000);
    const refused = await waitLog(a, 'Refused cluster peer', (l) => l.peer_node === 'ck1@127.0.0.1', 20_000);
    assert.equal(refused.reason, 'cookie mismatch');
    assert.match(String(refused.peer), /127\.0\.0\.1:\d+/, 'the refusal names the peer address');

    // a third node given a copy of the file (no node.cookie): it reads it and joins
    mkdirSync(data[2]!, { recursive: true, mode: 0o700 });
    copyFileSync(file, path.join(data[2]!, 'cookie'));
    const c = startNode({ ...spec(2, undefined), mqttPort: await freePort() });
    nodes.push(c);
    await waitLog(c, 'Cluster cookie read from the data dir');
    await waitMembers(a, ['ck0@127.0.0.1', 'ck2@127.0.0.1'], 30_000);
    assert.equal(
      b.proc.logs().some((l) => l.msg === 'Cluster node running'),
      false,
      'the node with another cookie never joined',
    );
  } finally {
    for (const n of nodes) n.proc.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.proc.waitExit()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cookie file others can read stops start-up', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-cookie-'));
  try {
    writeFileSync(path.join(dir, 'cookie'), 'a-cookie-of-32-characters-xxxxx\n', { mode: 0o644 });
    const p = spawnVireo({
      env: {
        VIREO_NODE__DATA_DIR: dir,
        VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${await freePort()}`,
        VIREO_LISTENERS__TCP__DEFAULT__BIND: '0',
        VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      },
    });
    const exit = await p.waitExit(15_000);
    assert.equal(exit.code, 2, p.stderr());
    assert.match(p.stderr(), /node\.cookie: unset, and .*cookie is readable by others \(mode 644\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

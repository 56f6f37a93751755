/**
 * flapping_detect on a real node with real clients: a client id reconnecting 20 times within
 * its window (max_count 5, window_time 10s, ban_time 3s here) is banned on its 6th CONNECT
 * (CONNACK 0x8A), listed in `GET /api/v5/banned` by `flapping detector`, refused while the
 * ban holds, counted in `vireo_flapping_banned`, and accepted again once it ends. Another
 * client id is not affected. In a cluster the ban made on one node holds on every node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { apiNodeEnv, metric } from './api-node.js';
import { rawConnect } from './raw-client.js';
import { killAllVireo, spawnVireo, type VireoProcess } from './vireo-process.js';
import { startApiNode, waitMembers, type ApiClusterNode } from './cluster-nodes.js';
import { freePort, waitFor } from './harness.js';

interface BanItem {
  as: string;
  who: string;
  by: string;
  reason: string;
  at: string;
  until: string;
}

test('A client reconnecting 20 times in a minute is banned and released', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-flapping-'));
  const { httpPort, mqttPort, env } = await apiNodeEnv(dir);
  const auth = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };
  let vireo: VireoProcess | undefined;
  /** One CONNECT and (when accepted) DISCONNECT; the CONNACK's reason code. */
  const attempt = async (clientId: string): Promise<number> => {
    const { client, connack } = await rawConnect(mqttPort, { clientId, protocolVersion: 5 });
    if (connack.reasonCode === 0) client.send({ cmd: 'disconnect' });
    client.destroy();
    return connack.reasonCode ?? -1;
  };
  const bans = async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/v5/banned`, { headers: auth });
    assert.equal(res.status, 200);
    return ((await res.json()) as { data: BanItem[] }).data;
  };
  try {
    vireo = spawnVireo({
      env: {
        ...env,
        VIREO_FLAPPING_DETECT__ENABLE: 'true',
        VIREO_FLAPPING_DETECT__MAX_COUNT: '5',
        VIREO_FLAPPING_DETECT__WINDOW_TIME: '10s',
        VIREO_FLAPPING_DETECT__BAN_TIME: '3s',
      },
    });
    await vireo.waitForLog('started', 30_000);

    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push(await attempt('flapper'));
    assert.deepEqual(codes, [0, 0, 0, 0, 0, 0x8a], 'five CONNECTs accepted, the sixth within the window refused as Banned');

    const listed = (await bans()).find((b) => b.as === 'clientid' && b.who === 'flapper');
    assert.ok(listed, 'the flapping client id is in GET /api/v5/banned');
    assert.equal(listed.by, 'flapping detector');
    assert.equal(listed.reason, 'flapping is detected');
    const until = Date.parse(listed.until);
    const banLength = until - Date.parse(listed.at);
    assert.ok(banLength >= 2900 && banLength <= 3100, `banned for ban_time (3 s), got ${banLength} ms`);
    const log = vireo.logs().find((l) => l.msg.startsWith('flapping_detected'));
    assert.equal(log?.clientid, 'flapper', 'the ban is logged with the client id');
    assert.equal(await metric(httpPort, 'vireo_flapping_banned'), 1);

    // the rest of the 20 reconnects: refused while the ban holds (those that start well before it ends)
    for (let i = 6; i < 20 && Date.now() < until - 300; i++) assert.equal(await attempt('flapper'), 0x8a, `reconnect ${i + 1} while banned`);
    assert.equal(await attempt('bystander'), 0, 'another client id connects');

    // released when the ban ends, and gone from the list
    await waitFor(async () => Date.now() > until && (await attempt('flapper')) === 0, 'flapper accepted after ban_time', 20_000, 250);
    assert.equal(
      (await bans()).find((b) => b.who === 'flapper'),
      undefined,
      'the expired ban is no longer listed',
    );
    assert.equal(await metric(httpPort, 'vireo_flapping_banned'), 1, 'banned once');
  } finally {
    vireo?.kill('SIGKILL');
    await vireo?.waitExit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flapping_detect in a cluster: the ban made on one node is listed and enforced on the other', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-flapping-cluster-'));
  const keyFile = path.join(dir, 'keys');
  writeFileSync(keyFile, 'ops:s3cret\n');
  const auth = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };
  const nodes: ApiClusterNode[] = [];
  try {
    const rpc = [await freePort(), await freePort()];
    for (let i = 0; i < 2; i++) {
      nodes.push(
        await startApiNode('flap', i, rpc, keyFile, {
          VIREO_FLAPPING_DETECT__ENABLE: 'true',
          VIREO_FLAPPING_DETECT__MAX_COUNT: '3',
          VIREO_FLAPPING_DETECT__WINDOW_TIME: '30s',
          VIREO_FLAPPING_DETECT__BAN_TIME: '10s',
        }),
      );
    }
    await Promise.all(nodes.map((n) => waitMembers(n, ['flap0@127.0.0.1', 'flap1@127.0.0.1'], 60_000)));
    const [a, b] = nodes as [ApiClusterNode, ApiClusterNode];
    const attempt = async (n: ApiClusterNode, clientId: string): Promise<number> => {
      const { client, connack } = await rawConnect(n.mqttPort, { clientId, protocolVersion: 5 });
      if (connack.reasonCode === 0) client.send({ cmd: 'disconnect' });
      client.destroy();
      return connack.reasonCode ?? -1;
    };
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push(await attempt(a, 'roamer'));
    assert.deepEqual(codes, [0, 0, 0, 0x8a], 'banned on node A at the 4th CONNECT');
    let until = 0;
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${b.http}/api/v5/banned`, { headers: auth });
        const ban = ((await res.json()) as { data: BanItem[] }).data.find((x) => x.who === 'roamer');
        if (ban) until = Date.parse(ban.until);
        return ban?.by === 'flapping detector';
      },
      'the ban listed by node B',
      20_000,
      100,
    );
    assert.ok(Date.now() < until, 'still within ban_time (10 s)');
    assert.equal(await attempt(b, 'roamer'), 0x8a, 'refused on node B while banned');
    await waitFor(async () => Date.now() > until && (await attempt(b, 'roamer')) === 0, 'accepted on node B after ban_time', 20_000, 250);
  } finally {
    for (const n of nodes) n.proc.kill('SIGKILL');
    killAllVireo();
    rmSync(dir, { recursive: true, force: true });
  }
});

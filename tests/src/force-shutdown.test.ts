/**
 * force_shutdown with its defaults (on, max_mailbox_size 1 000, max_heap_size 32MB) on a real
 * node: a subscriber that never reads while a QoS 0 flood is routed to it is disconnected once
 * more than 1 MB waits for its socket and 1 000 more messages arrive for it (logged `force_shutdown`, reason
 * `mailbox_overflow`, counted), and its persistent session stays; a subscriber that stops
 * reading for a while during a QoS 1 burst (bounded by its inflight window) is not touched and
 * gets every message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';
import { sleep, waitFor } from './harness.js';
import { apiNodeEnv } from './api-node.js';
import { rawConnect, type RawClient } from './raw-client.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';

const FLOOD = 40_000;
const BURST = 1000;

test('force_shutdown: a client that never reads is disconnected, a slow-but-live one under a burst is not', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-force-shutdown-'));
  const { httpPort, mqttPort, env } = await apiNodeEnv(dir);
  const auth = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };
  let vireo: VireoProcess | undefined;
  const clients: RawClient[] = [];
  const open = async (clientId: string, expiry = 0) => {
    const { client, connack } = await rawConnect(mqttPort, { clientId, protocolVersion: 5, clean: true, properties: { sessionExpiryInterval: expiry } });
    clients.push(client);
    assert.equal(connack.reasonCode, 0);
    return client;
  };
  const subscribe = async (c: RawClient, topic: string, qos: 0 | 1) => {
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] });
    await c.next((p) => p.cmd === 'suback');
  };
  try {
    vireo = spawnVireo({ env });
    await vireo.waitForLog('started', 30_000);

    // never reads once subscribed; a persistent session (10 min)
    const stalled = await open('stalled', 600);
    await subscribe(stalled, 'flood/t', 0);
    stalled.socket.pause();
    // live, but stops reading for 2 s while a QoS 1 burst arrives
    const slow = await open('slow');
    await subscribe(slow, 'burst/t', 1);
    const got = new Set<string>();
    slow.socket.pause();

    const pub = await open('pub');
    const payload = Buffer.alloc(500, 'x');
    const enc = (p: mqttPacket.IPublishPacket) => mqttPacket.generate(p, { protocolVersion: 5 });
    const burst: Buffer[] = [];
    for (let i = 0; i < BURST; i++)
      burst.push(enc({ cmd: 'publish', topic: 'burst/t', payload: Buffer.from(`m${i}`), qos: 1, messageId: (i % 60000) + 1, retain: false, dup: false }));
    pub.send(Buffer.concat(burst));
    const flood: Buffer[] = [];
    for (let i = 0; i < FLOOD; i++) flood.push(enc({ cmd: 'publish', topic: 'flood/t', payload, qos: 0, retain: false, dup: false }));
    pub.send(Buffer.concat(flood));

    await waitFor(() => vireo!.logs().some((l) => l.msg === 'force_shutdown' && l.clientid === 'stalled'), 'force_shutdown of the client that never reads', 60_000, 50);
    const line = vireo.logs().find((l) => l.msg === 'force_shutdown' && l.clientid === 'stalled')!;
    assert.equal(line.reason, 'mailbox_overflow');
    assert.ok((line.mailbox_size as number) > 1000, `more than max_mailbox_size messages arrived over the watermark: ${String(line.mailbox_size)}`);
    assert.ok((line.pending_bytes as number) > 1024 * 1024, `over 1 MB waiting for its socket: ${String(line.pending_bytes)}`);

    // the slow subscriber reads again: every message of the burst, acknowledged as it goes
    await sleep(2000);
    slow.socket.on('data', () => {
      for (const p of slow.received.splice(0)) {
        if (p.cmd !== 'publish') continue;
        got.add(String(p.payload));
        if (p.qos === 1) slow.send({ cmd: 'puback', messageId: p.messageId! });
      }
    });
    slow.socket.resume();
    await waitFor(() => got.size === BURST, `the slow subscriber gets all ${BURST} messages (has ${got.size})`, 60_000, 50);
    assert.ok(!slow.closed, 'the slow subscriber is still connected');
    assert.equal(vireo.logs().filter((l) => l.msg === 'force_shutdown').length, 1, 'only the client that never reads was shut down');

    const prom = await (await fetch(`http://127.0.0.1:${httpPort}/api/v5/prometheus/stats`)).text();
    const series = prom.split('\n').find((l) => l.startsWith('vireo_force_shutdown{reason="mailbox_overflow"'));
    assert.equal(Number(series?.split(' ').pop()), 1, 'counted in vireo_force_shutdown{reason="mailbox_overflow"}');
    // its session stays (persistent), offline
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/v5/clients/stalled`, { headers: auth });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { connected: boolean }).connected, false);
  } finally {
    for (const c of clients) c.destroy();
    vireo?.kill('SIGKILL');
    await vireo?.waitExit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A takeover's end (`takeover_end`) and barrier markers (`takeover_barrier_done`) tell the old
 * node that everything sent to it before them has arrived, so it can end the stand-in. While
 * forwards are held back for a peer that reads slowly (cluster.rpc.max_pending_bytes), those
 * frames must not overtake them: a held forward would reach the old node after its stand-in
 * ended and be lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Message } from '@vireo/broker';
import { ClientLock } from './client-lock.js';
import { Forwarder, type FlowSink } from './forwarder.js';
import { Outbox } from './outbox.js';
import { PeerStats } from './peer-stats.js';
import { RouteSync } from './route-sync.js';
import { toWire, type Frame } from './wire.js';

const log = pino({ level: 'silent' });

function forwarder(): Forwarder {
  const lock = new ClientLock({ node: 'x', autoheal: true, logger: log, discardLocal: () => {} });
  return new Forwarder({
    node: 'x',
    log,
    strategy: 'round_robin',
    routes: new RouteSync({ log, lock, schedule: () => {} }),
    outbox: new Outbox(() => {}),
    stats: new PeerStats(),
    linked: () => true,
    linkedCount: () => 1,
    host: () => undefined,
  });
}

const msg = (payload: string): Message => ({
  id: 1,
  topic: 't',
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  properties: undefined,
  from: 'p',
  timestamp: 0,
  expiresAt: 0,
});

/** A link to a peer that has too much unread: it takes every write, and reports congestion. */
function congestedLink(): FlowSink & { written: Frame[] } {
  const written: Frame[] = [];
  return { written, pendingBytes: 1 << 30, congested: () => true, send: (f) => void written.push(f) };
}

const kinds = (fs: Frame[]) =>
  fs.map((f) => (f.forward ? `forward ${f.forward.msgs.map((m) => m.payload.toString()).join(',')}` : Object.keys(f).filter((k) => f[k as keyof Frame] !== undefined)[0]));

for (const marker of ['takeover_barrier_done', 'takeover_end'] as const) {
  test(`${marker} does not overtake forwards held for a congested peer; other frames may`, () => {
    const f = forwarder();
    const link = congestedLink();
    f.write('old', { forward: { msgs: [toWire(msg('1'))] } }, link);
    f.write('old', { forward: { msgs: [toWire(msg('2'))] } }, link);
    assert.deepEqual(kinds(link.written), [], 'held while the peer does not read');
    f.write('old', { heartbeat: { at: 0 } }, link);
    assert.deepEqual(kinds(link.written), ['heartbeat'], 'a heartbeat goes at once');
    f.write('old', { [marker]: { clientid: 'dev-1' } }, link);
    assert.deepEqual(kinds(link.written), ['heartbeat', 'forward 1', 'forward 2', marker], 'the held forwards go first, in order');
    f.write('old', { forward: { msgs: [toWire(msg('3'))] } }, link);
    assert.equal(link.written.length, 4, 'later forwards are held again while the peer does not read');
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeLoad } from './node-load.js';
import { evictConnections } from './connection-evictor.js';

type Gate = (() => { serverReference: string | undefined } | undefined) | undefined;

test('NodeLoad: giving load away and refusing CONNECTs are separate switches, each held per owner', () => {
  let gate: Gate;
  const load = new NodeLoad({ setAdmission: (g) => (gate = g) });
  assert.equal(load.givingLoadAway, false);
  load.giveAway('rebalance');
  assert.equal(load.givingLoadAway, true);
  assert.equal(gate?.(), undefined, 'giving load away alone still accepts CONNECTs');
  load.refuseConnects('evacuation', 'lb:1883');
  assert.deepEqual(gate?.(), { serverReference: 'lb:1883' });
  load.release('evacuation');
  assert.equal(gate, undefined, 'no owner refuses: CONNECTs accepted');
  assert.equal(load.givingLoadAway, true, "rebalance's hold stays");
  load.release('rebalance');
  assert.equal(load.givingLoadAway, false);
});

function fakeBroker(n: number) {
  const connected = new Set(Array.from({ length: n }, (_, i) => `c${i}`));
  const evicted: { id: string; ref: string | undefined; at: number }[] = [];
  return {
    connected,
    evicted,
    connectedClientIds: () => [...connected],
    evictConnection(id: string, ref?: string) {
      if (!connected.has(id)) return false;
      // the socket closes a moment later, as a real one does
      setTimeout(() => connected.delete(id), 5);
      evicted.push({ id, ref, at: Date.now() });
      return true;
    },
  };
}

test('evictConnections: every client once, with the Server Reference, no faster than the rate; `count` and abort stop it', async () => {
  const b = fakeBroker(12);
  const start = Date.now();
  const done = evictConnections(b, { rate: 20, serverReference: 'other:1883' });
  await new Promise((r) => setTimeout(r, 150));
  // at 20/s, 150 ms allow about 4 (one token to start): never all 12, however fast the machine
  assert.ok(b.evicted.length < 12, `rate-limited (${b.evicted.length} after 150 ms)`);
  assert.equal(await done, 12);
  assert.deepEqual(new Set(b.evicted.map((e) => e.id)).size, 12);
  assert.ok(b.evicted.every((e) => e.ref === 'other:1883'));
  assert.ok(Date.now() - start >= 500, '12 at 20/s take over half a second');

  const c = fakeBroker(10);
  assert.equal(await evictConnections(c, { rate: 1000, count: 3 }), 3);
  assert.equal(c.evicted.length, 3);

  const d = fakeBroker(10);
  const ac = new AbortController();
  const p = evictConnections(d, { rate: 5, signal: ac.signal });
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  assert.ok((await p) < 10);
});

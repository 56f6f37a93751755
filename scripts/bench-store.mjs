// node scripts/bench-store.mjs [new | path/to/sqlite-store.js] [messages] [lag]
// Drives a store as the pairs benchmark does, without sockets: 10 publishers with a window
// of 32 unacknowledged messages each; each message puts one delivery for a persistent
// subscriber; the subscriber "acks" (deleteDelivery) `lag` messages later; the publisher's
// ack waits for afterCommit. Reports msg/s and process CPU µs per message (all threads).
// To compare with another version: `git show <rev>:packages/store/src/<f>.ts` for each
// file into a directory inside the repo (so better-sqlite3 resolves), transpile them with
// typescript's transpileModule to ESM .js (with a {"type":"module"} package.json), and pass
// that directory's sqlite-store.js. Alternate the two, several rounds (docs/performance.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const [which = 'new', n = '60000', lag = '8'] = process.argv.slice(2);
const mod = await import(which === 'new' ? '../packages/store/dist/sqlite-store.js' : new URL(which, `file://${process.cwd()}/`).href);
const dir = mkdtempSync(join(tmpdir(), 'drive-'));
const { store } = mod.openSqliteStore({ dataDir: dir, nodeName: 'n', force: false });
const N = +n, LAG = +lag, P = 10, W = 32;
const payload = Buffer.alloc(64, 7);
let seq = 1, acked = 0, sent = 0;
const inflight = new Array(P).fill(0);
const toAck = []; // [clientId, seq]
const t0 = performance.now(); const c0 = process.cpuUsage();
await new Promise((resolve) => {
  const cb = (p) => { inflight[p]--; acked++; if (acked === N) resolve(); };
  function pump() {
    let progressed = false;
    for (let p = 0; p < P; p++) {
      while (inflight[p] < W && sent < N) {
        const msg = { id: 0, topic: `bench/${p}`, payload, qos: 1, retain: false, properties: undefined, from: `pub-${p}`, timestamp: Date.now(), expiresAt: 0 };
        const d = { msg, qos: 1, retain: false, subIds: undefined, share: undefined };
        const s = seq++;
        store.putDelivery(`sub-${p}`, s, (s % 65535) + 1, 1, d);
        store.afterCommit(cb, p);
        inflight[p]++; sent++; progressed = true;
        toAck.push([`sub-${p}`, s]);
        if (toAck.length > LAG) { const [c, q] = toAck.shift(); store.deleteDelivery(c, q); }
      }
    }
    if (acked < N) setImmediate(pump);
  }
  pump();
});
const ms = performance.now() - t0; const c = process.cpuUsage(c0);
console.log(which, 'msg/s', Math.round(N / ms * 1000), 'cpu us/msg', ((c.user + c.system) / N).toFixed(1));
await store.close();
rmSync(dir, { recursive: true, force: true });

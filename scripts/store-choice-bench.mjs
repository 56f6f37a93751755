// The measurement behind the choice of embedded store (docs/architecture.md § Durable storage):
// 20 000 records of 200 bytes written in durable batches of 100, LMDB (lmdb) against SQLite
// (better-sqlite3, WAL, synchronous=FULL), with the main thread's busy time per commit.
// lmdb is not a dependency: `npm i --no-save lmdb` first, then `node scripts/store-choice-bench.mjs`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
const { open } = await import('lmdb');

const N = 20_000;
const B = 100;
const payload = Buffer.alloc(200, 7);
const dir = mkdtempSync(join(tmpdir(), 'store-choice-'));
const key = (i) => `m/${String(i).padStart(10, '0')}`;
try {
  for (let round = 1; round <= 2; round++) {
    const db = open({ path: join(dir, `lmdb${round}`), compression: false });
    let main = 0;
    const t = performance.now();
    for (let i = 0; i < N; i += B) {
      const s = performance.now();
      let p;
      for (let j = 0; j < B; j++) p = db.put(key(i + j), payload);
      main += performance.now() - s;
      await p; // lmdb commits (and fsyncs) on its own thread
    }
    const ms = performance.now() - t;
    console.log(`lmdb durable: ${Math.round((N / ms) * 1000)} rec/s; main thread busy ${(main / (N / B)).toFixed(3)} ms per ${B}-record commit`);
    await db.close();

    const sq = new Database(join(dir, `sq${round}.db`));
    sq.pragma('journal_mode = WAL');
    sq.pragma('synchronous = FULL');
    sq.exec('create table m (k text primary key, v blob)');
    const ins = sq.prepare('insert into m values (?, ?)');
    const tx = sq.transaction((i) => {
      for (let j = 0; j < B; j++) ins.run(key(i + j), payload);
    });
    let smain = 0;
    const t2 = performance.now();
    for (let i = 0; i < N; i += B) {
      const s = performance.now();
      tx(i); // synchronous: the fsync happens on the calling thread
      smain += performance.now() - s;
      await new Promise(setImmediate);
    }
    const ms2 = performance.now() - t2;
    console.log(`better-sqlite3 WAL FULL: ${Math.round((N / ms2) * 1000)} rec/s; calling thread busy ${(smain / (N / B)).toFixed(3)} ms per ${B}-record commit`);
    sq.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

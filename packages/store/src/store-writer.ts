/**
 * The writer thread: applies each batch of queued writes in one SQLite transaction, so the
 * broker's event loop never waits on the disk.
 *
 * Commits run with synchronous=NORMAL (no fsync of their own) and this thread fsyncs the WAL
 * itself, asynchronously, after them: while an fsync runs the next batches are applied, and
 * the next fsync covers all of them. Every byte SQLite wrote to the WAL before an fsync is on
 * disk when it returns, which is what synchronous=FULL would give each commit — but a commit
 * no longer waits for the disk before the next one can start, so the disk's latency is paid
 * once per fsync, not once per batch plus once per fsync. The broker sends acknowledgements
 * only on `synced`. (A message acknowledged before its batch left the broker never reaches
 * here: see SqliteStore.deleteDelivery.)
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ByteReader } from './bytes.js';
import { OP, SCHEMA, type FromWriter, type ToWriter } from './schema.js';

const port = parentPort!;
const file = (workerData as { file: string }).file;
const db = new Database(file, { timeout: 5000 });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(SCHEMA);
const stmts = {
  putRetained: db.prepare('insert or replace into retained (topic, msg) values (?, ?)'),
  deleteRetained: db.prepare('delete from retained where topic = ?'),
  putSession: db.prepare('insert or replace into sessions (clientid, state) values (?, ?)'),
  deleteSession: db.prepare('delete from sessions where clientid = ?'),
  deleteSessionSubscriptions: db.prepare('delete from subscriptions where clientid = ?'),
  putSubscription: db.prepare('insert or replace into subscriptions (clientid, filter, opts) values (?, ?, ?)'),
  deleteSubscription: db.prepare('delete from subscriptions where clientid = ? and filter = ?'),
  deleteSessionDeliveries: db.prepare('delete from deliveries where clientid = ?'),
  deleteSessionRels: db.prepare('delete from awaiting_rel where clientid = ?'),
  putDelivery: db.prepare('insert or replace into deliveries (clientid, seq, pid, state, d) values (?, ?, ?, ?, ?)'),
  setDeliveryState: db.prepare('update deliveries set pid = ?, state = ? where clientid = ? and seq = ?'),
  deleteDelivery: db.prepare('delete from deliveries where clientid = ? and seq = ?'),
  putAwaitingRel: db.prepare('insert or replace into awaiting_rel (clientid, pid, at) values (?, ?, ?)'),
  deleteAwaitingRel: db.prepare('delete from awaiting_rel where clientid = ? and pid = ?'),
  putWill: db.prepare('insert or replace into wills (clientid, fire_at, msg) values (?, ?, ?)'),
  deleteWill: db.prepare('delete from wills where clientid = ?'),
};

const apply = db.transaction((r: ByteReader) => {
  while (!r.done) {
    const op = r.u8();
    switch (op) {
      case OP.putRetained:
        stmts.putRetained.run(r.str(), r.bytes());
        break;
      case OP.deleteRetained:
        stmts.deleteRetained.run(r.str());
        break;
      case OP.putSession: {
        // the session and all its subscriptions (stored for the first time)
        const id = r.str();
        stmts.putSession.run(id, r.bytes());
        stmts.deleteSessionSubscriptions.run(id);
        for (let n = r.u32(); n > 0; n--) stmts.putSubscription.run(id, r.str(), r.bytes());
        break;
      }
      case OP.updateSession:
        stmts.putSession.run(r.str(), r.bytes());
        break;
      case OP.putSubscription:
        stmts.putSubscription.run(r.str(), r.str(), r.bytes());
        break;
      case OP.deleteSubscription:
        stmts.deleteSubscription.run(r.str(), r.str());
        break;
      case OP.deleteSession: {
        const id = r.str();
        stmts.deleteSession.run(id);
        stmts.deleteSessionSubscriptions.run(id);
        stmts.deleteSessionDeliveries.run(id);
        stmts.deleteSessionRels.run(id);
        break;
      }
      case OP.putDelivery:
        stmts.putDelivery.run(r.str(), r.f64(), r.u16(), r.u8(), r.bytes());
        break;
      case OP.setDeliveryState: {
        const id = r.str();
        const seq = r.f64();
        stmts.setDeliveryState.run(r.u16(), r.u8(), id, seq);
        break;
      }
      case OP.deleteDelivery:
        stmts.deleteDelivery.run(r.str(), r.f64());
        break;
      case OP.putAwaitingRel:
        stmts.putAwaitingRel.run(r.str(), r.u16(), r.f64());
        break;
      case OP.deleteAwaitingRel:
        stmts.deleteAwaitingRel.run(r.str(), r.u16());
        break;
      case OP.putWill:
        stmts.putWill.run(r.str(), r.f64(), r.bytes());
        break;
      case OP.deleteWill:
        stmts.deleteWill.run(r.str());
        break;
      default:
        throw new Error(`unknown store operation ${op}`);
    }
  }
});

function reply(m: FromWriter): void {
  port.postMessage(m);
}

// The WAL exists once the connection has read the database (above). Any descriptor of the
// file will do: fsync flushes the file, not what one descriptor wrote.
const walFd = fs.openSync(`${file}-wal`, 'r');
let applied = 0;
let synced = 0;
/** The batch the latest fsync was started for. */
let syncStarted = 0;
let syncsRunning = 0;
let closing = false;
/**
 * fsyncs run on libuv's thread pool, a few at once: one started after a commit covers it even
 * while an earlier one is still running, so a commit waits for one fsync, not for the rest
 * of the running one first (the disk merges them; measured: about half the wait under load).
 */
const MAX_SYNCS = 3;

function sync(): void {
  if (syncStarted === applied || syncsRunning >= MAX_SYNCS) {
    if (closing && syncsRunning === 0 && synced === applied) close();
    return;
  }
  syncsRunning++;
  const upTo = (syncStarted = applied);
  fs.fdatasync(walFd, (err) => {
    syncsRunning--;
    if (err) reply({ type: 'failed', seq: upTo, error: `fsync: ${err.message}` });
    else if (upTo > synced) reply({ type: 'synced', seq: upTo });
    if (upTo > synced) synced = upTo;
    sync();
  });
}

function close(): void {
  db.close();
  fs.closeSync(walFd);
  reply({ type: 'closed' });
  port.close();
}

port.on('message', (m: ToWriter) => {
  if (m.type === 'close') {
    closing = true;
    return sync();
  }
  try {
    apply(new ByteReader(Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength)));
    applied = m.seq;
    reply({ type: 'applied', seq: m.seq });
    sync();
  } catch (err) {
    reply({ type: 'failed', seq: m.seq, error: err instanceof Error ? err.message : String(err) });
  }
});

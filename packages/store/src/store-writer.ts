/**
 * The writer thread: applies each batch of queued writes in one SQLite transaction and
 * fsyncs it (synchronous=FULL), so the broker's event loop never waits on the disk.
 * (A message acknowledged before its batch left the broker never reaches here: see
 * SqliteStore.deleteDelivery.)
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { encodeDeliveryRecord } from './records.js';
import { SCHEMA, type FromWriter, type Op, type ToWriter } from './schema.js';

const port = parentPort!;
const db = new Database((workerData as { file: string }).file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(SCHEMA);
const stmts = {
  putRetained: db.prepare('insert or replace into retained (topic, msg) values (?, ?)'),
  deleteRetained: db.prepare('delete from retained where topic = ?'),
  putSession: db.prepare('insert or replace into sessions (clientid, state) values (?, ?)'),
  deleteSession: db.prepare('delete from sessions where clientid = ?'),
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

const apply = db.transaction((ops: Op[]) => {
  for (const op of ops) {
    switch (op[0]) {
      case 'putRetained':
        stmts.putRetained.run(op[1], op[2]);
        break;
      case 'deleteRetained':
        stmts.deleteRetained.run(op[1]);
        break;
      case 'putSession':
        stmts.putSession.run(op[1], op[2]);
        break;
      case 'deleteSession':
        stmts.deleteSession.run(op[1]);
        stmts.deleteSessionDeliveries.run(op[1]);
        stmts.deleteSessionRels.run(op[1]);
        break;
      case 'putDelivery':
        // serialised here, not on the broker's thread
        stmts.putDelivery.run(op[1], op[2], op[3], op[4], encodeDeliveryRecord(op[5]));
        break;
      case 'setDeliveryState':
        stmts.setDeliveryState.run(op[3], op[4], op[1], op[2]);
        break;
      case 'deleteDelivery':
        stmts.deleteDelivery.run(op[1], op[2]);
        break;
      case 'putAwaitingRel':
        stmts.putAwaitingRel.run(op[1], op[2], op[3]);
        break;
      case 'deleteAwaitingRel':
        stmts.deleteAwaitingRel.run(op[1], op[2]);
        break;
      case 'putWill':
        stmts.putWill.run(op[1], op[2], op[3]);
        break;
      case 'deleteWill':
        stmts.deleteWill.run(op[1]);
        break;
    }
  }
});

function reply(m: FromWriter): void {
  port.postMessage(m);
}

port.on('message', (m: ToWriter) => {
  if (m.type === 'close') {
    db.close();
    reply({ type: 'closed' });
    port.close();
    return;
  }
  try {
    apply(m.ops);
    reply({ type: 'committed', seq: m.seq });
  } catch (err) {
    reply({ type: 'failed', seq: m.seq, error: err instanceof Error ? err.message : String(err) });
  }
});

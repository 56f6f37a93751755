import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskBuffer, type DiskPlace } from './disk-buffer.js';

const rec = (i: number) => ({ topic: `t/${i}`, payload: Buffer.from(`payload-${i}`), qos: 1 as const, retain: i % 2 === 0 });

test('what was not acknowledged comes back in order after a reopen; acks out of order hold the head', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-diskbuf-'));
  try {
    const a = new DiskBuffer(dir, 'b');
    assert.deepEqual(a.backlog(), []);
    const places: DiskPlace[] = [];
    for (let i = 0; i < 5; i++) places.push(a.append(rec(i)));
    a.flush();
    a.ack(places[1]!); // out of order: 0 not yet acknowledged, nothing moves
    a.ack(places[0]!); // now 0 and 1 are done
    a.close();
    const b = new DiskBuffer(dir, 'b');
    const back = b.backlog();
    assert.deepEqual(
      back.map((x) => x.record),
      [rec(2), rec(3), rec(4)],
    );
    for (const x of back) b.ack(x.place);
    assert.equal(statSync(join(dir, 'b.buf')).size, 0, 'emptied once all acknowledged');
    b.close();
    assert.deepEqual(new DiskBuffer(dir, 'b').backlog(), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a torn last record is dropped; new records follow the whole ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-diskbuf-'));
  try {
    const a = new DiskBuffer(dir, 'b');
    a.append(rec(1));
    a.close();
    appendFileSync(join(dir, 'b.buf'), Buffer.from([0, 0, 0, 50, 1, 0])); // half a record
    const b = new DiskBuffer(dir, 'b');
    assert.deepEqual(
      b.backlog().map((x) => x.record),
      [rec(1)],
    );
    b.append(rec(2));
    b.close();
    assert.deepEqual(
      new DiskBuffer(dir, 'b').backlog().map((x) => x.record),
      [rec(1), rec(2)],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the acknowledged head is cut off once it passes the bound; places still acknowledge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-diskbuf-'));
  try {
    const a = new DiskBuffer(dir, 'b', 100);
    const places: DiskPlace[] = [];
    for (let i = 0; i < 20; i++) places.push(a.append(rec(i)));
    a.flush();
    for (let i = 0; i < 15; i++) a.ack(places[i]!);
    assert.ok(statSync(join(dir, 'b.buf')).size < 5 * 40, 'rewritten without the head');
    a.ack(places[15]!);
    a.close();
    assert.deepEqual(
      new DiskBuffer(dir, 'b').backlog().map((x) => x.record),
      [16, 17, 18, 19].map(rec),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

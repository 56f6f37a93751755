/**
 * A bridge's egress buffer kept on disk (`resource_opts.buffer_on_disk`): every accepted
 * message is appended to `<dir>/<bridge>.buf` (written in one batch per tick, off the
 * publish call), and `<bridge>.ack` holds the offset before which everything was
 * acknowledged by the remote broker. After a crash or a restart the messages past that
 * offset are sent again, in order: nothing accepted is lost, and a message whose
 * acknowledgement was lost may be sent twice (at least once, as MQTT QoS 1). The file is
 * emptied whenever everything was acknowledged, and rewritten without its acknowledged
 * head once that head passes 64 MB.
 */
import { closeSync, existsSync, fdatasyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync, ftruncateSync, fstatSync } from 'node:fs';
import { join } from 'node:path';

export interface DiskRecord {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

/** A record's place in the file, what acknowledging it needs. */
export interface DiskPlace {
  start: number;
  end: number;
}

const COMPACT_AT = 64 * 1024 * 1024;

export class DiskBuffer {
  private fd: number;
  private size: number;
  private acked: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  /** Places not yet acknowledged, in file order, with their acknowledged flag. */
  private places: { place: DiskPlace; done: boolean }[] = [];
  private head = 0;
  private readonly file: string;
  private readonly ackFile: string;

  constructor(
    dir: string,
    name: string,
    /** Rewrite the file once its acknowledged head passes this many bytes. */
    private readonly compactAt = COMPACT_AT,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${name}.buf`);
    this.ackFile = join(dir, `${name}.ack`);
    this.fd = openSync(this.file, existsSync(this.file) ? 'r+' : 'w+');
    this.size = fstatSync(this.fd).size;
    this.acked = existsSync(this.ackFile) ? Math.min(Number(readFileSync(this.ackFile, 'utf8').trim()) || 0, this.size) : 0;
  }

  /** The records past the acknowledged offset (a restart's backlog), with their places. */
  backlog(): { record: DiskRecord; place: DiskPlace }[] {
    const out: { record: DiskRecord; place: DiskPlace }[] = [];
    if (this.size <= this.acked) return out;
    const data = readFileSync(this.file).subarray(this.acked);
    let at = 0;
    while (at + 8 <= data.length) {
      const len = data.readUInt32BE(at);
      if (at + 4 + len > data.length) break; // a torn last write: what was not complete was not accepted
      const flags = data.readUInt8(at + 4);
      const topicLen = data.readUInt16BE(at + 5);
      const topic = data.toString('utf8', at + 7, at + 7 + topicLen);
      const payload = Buffer.from(data.subarray(at + 7 + topicLen, at + 4 + len));
      const place = { start: this.acked + at, end: this.acked + at + 4 + len };
      out.push({ record: { topic, payload, qos: (flags & 3) as 0 | 1 | 2, retain: (flags & 4) !== 0 }, place });
      this.places.push({ place, done: false });
      at += 4 + len;
    }
    // cut a torn tail so that new records follow whole ones
    const whole = this.acked + at;
    if (whole < this.size) {
      ftruncateSync(this.fd, whole);
      this.size = whole;
    }
    return out;
  }

  /** Appends a record (written at the end of this tick); returns its place. */
  append(r: DiskRecord): DiskPlace {
    const topic = Buffer.from(r.topic);
    const len = 3 + topic.length + r.payload.length;
    const head = Buffer.allocUnsafe(7);
    head.writeUInt32BE(len, 0);
    head.writeUInt8(r.qos | (r.retain ? 4 : 0), 4);
    head.writeUInt16BE(topic.length, 5);
    this.pending.push(head, topic, r.payload);
    const start = this.size + this.pendingBytes;
    this.pendingBytes += 4 + len;
    const place = { start, end: start + 4 + len };
    this.places.push({ place, done: false });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return place;
  }

  /** Writes what was appended (also called before a close). */
  flush(): void {
    this.scheduled = false;
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off, this.size + off);
    this.size += data.length;
  }

  /** The remote broker acknowledged the record at `place` (or it was written, QoS 0). */
  ack(place: DiskPlace): void {
    for (let i = this.head; i < this.places.length; i++) {
      const p = this.places[i]!;
      if (p.place.start === place.start) {
        p.done = true;
        break;
      }
    }
    let moved = false;
    while (this.head < this.places.length && this.places[this.head]!.done) {
      this.acked = this.places[this.head]!.place.end;
      this.places[this.head++] = undefined as unknown as { place: DiskPlace; done: boolean };
      moved = true;
    }
    if (!moved) return;
    if (this.head === this.places.length) {
      this.places = [];
      this.head = 0;
      if (this.pendingBytes === 0) {
        // everything acknowledged: start the file over
        ftruncateSync(this.fd, 0);
        this.size = 0;
        this.acked = 0;
      }
    } else if (this.acked > this.compactAt) this.compact();
    writeFileSync(this.ackFile, String(this.acked));
  }

  /** Rewrites the file without its acknowledged head; places shift by that much. */
  private compact(): void {
    this.flush();
    const tail = readFileSync(this.file).subarray(this.acked);
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, tail);
    const shift = this.acked;
    closeSync(this.fd);
    renameSync(tmp, this.file);
    this.fd = openSync(this.file, 'r+');
    this.size = tail.length;
    this.acked = 0;
    this.places = this.places.slice(this.head);
    this.head = 0;
    for (const p of this.places) {
      p.place.start -= shift;
      p.place.end -= shift;
    }
  }

  close(): void {
    this.flush();
    try {
      fdatasyncSync(this.fd);
    } finally {
      closeSync(this.fd);
    }
  }
}

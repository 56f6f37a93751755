import type { InflightEntry } from './types.js';

/**
 * A session's inflight window: packet id → entry, iterated in the order entries were added
 * (the order they are resent in). It does what the session needs of a Map without allocating
 * per message: a Map whose one entry is added and removed for every QoS 1 delivery rebuilds or
 * shrinks its table every few messages (about 150 bytes and 170 ns a message, profiled at
 * 5 000 msg/s).
 *
 * Ids are found through an open-addressing table (linear probing, backward-shift deletion).
 * The order is an array that removal leaves alone: an entry is live while the table holds it,
 * the head skips removed ones (acks mostly come in order) and the array is compacted when it
 * holds twice as many slots as live entries. Removing entries while iterating is allowed, as
 * with a Map; adding is not done while iterating (compaction would move entries).
 */
export class InflightWindow {
  private ids: Int32Array;
  private vals: (InflightEntry | undefined)[];
  private mask: number;
  private count = 0;
  /** Slots [head, tail) of `order` hold the entries in insertion order, removed ones included. */
  private order: (InflightEntry | undefined)[] = [];
  private head = 0;
  private tail = 0;

  constructor(capacity = 8) {
    let cap = 8;
    while (cap < capacity * 2) cap *= 2;
    this.ids = new Int32Array(cap);
    this.vals = new Array<InflightEntry | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  static from(entries: readonly InflightEntry[]): InflightWindow {
    const w = new InflightWindow(entries.length);
    for (const e of entries) w.set(e.pid, e);
    return w;
  }

  get size(): number {
    return this.count;
  }

  get(pid: number): InflightEntry | undefined {
    const i = this.slotOf(pid);
    return i < 0 ? undefined : this.vals[i];
  }

  has(pid: number): boolean {
    return this.slotOf(pid) >= 0;
  }

  /** Adds `entry` under `pid` (its own id); replacing an entry keeps its place in the order. */
  set(pid: number, entry: InflightEntry): this {
    const at = this.slotOf(pid);
    if (at >= 0) {
      const old = this.vals[at];
      this.vals[at] = entry;
      const k = this.order.indexOf(old, this.head);
      if (k >= 0 && k < this.tail) this.order[k] = entry;
      return this;
    }
    if ((this.count + 1) * 2 > this.ids.length) this.grow();
    let i = pid & this.mask;
    while (this.ids[i] !== 0) i = (i + 1) & this.mask;
    this.ids[i] = pid;
    this.vals[i] = entry;
    this.count++;
    if (this.tail - this.head > 2 * this.count + 16) this.compact();
    // slots are reused, never truncated: the array keeps its storage
    this.order[this.tail++] = entry;
    return this;
  }

  delete(pid: number): boolean {
    let i = this.slotOf(pid);
    if (i < 0) return false;
    this.count--;
    // backward-shift: move later entries of the probe run into the hole, so lookups never stop early
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const k = this.ids[j]!;
      if (k === 0) break;
      const home = k & this.mask;
      // the entry at j may fill the hole at i unless its home lies cyclically in (i, j]
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        this.ids[i] = k;
        this.vals[i] = this.vals[j];
        i = j;
      }
    }
    this.ids[i] = 0;
    this.vals[i] = undefined;
    const order = this.order;
    while (this.head < this.tail && !this.isLive(order[this.head])) order[this.head++] = undefined;
    if (this.head === this.tail) this.head = this.tail = 0;
    return true;
  }

  *values(): IterableIterator<InflightEntry> {
    const order = this.order;
    for (let k = this.head; k < this.tail; k++) {
      const e = order[k];
      if (e !== undefined && this.isLive(e)) yield e;
    }
  }

  *keys(): IterableIterator<number> {
    for (const e of this.values()) yield e.pid;
  }

  *[Symbol.iterator](): IterableIterator<[number, InflightEntry]> {
    for (const e of this.values()) yield [e.pid, e];
  }

  /** The entry still in the table under its id (removed ones stay in `order` until skipped or compacted). */
  private isLive(e: InflightEntry | undefined): boolean {
    return e !== undefined && this.get(e.pid) === e;
  }

  private slotOf(pid: number): number {
    let i = pid & this.mask;
    for (;;) {
      const k = this.ids[i]!;
      if (k === pid) return i;
      if (k === 0) return -1;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const keys = this.ids;
    const vals = this.vals;
    const cap = keys.length * 2;
    this.ids = new Int32Array(cap);
    this.vals = new Array<InflightEntry | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
    for (let s = 0; s < keys.length; s++) {
      const k = keys[s]!;
      if (k === 0) continue;
      let i = k & this.mask;
      while (this.ids[i] !== 0) i = (i + 1) & this.mask;
      this.ids[i] = k;
      this.vals[i] = vals[s];
    }
  }

  private compact(): void {
    const order = this.order;
    let to = 0;
    for (let k = this.head; k < this.tail; k++) {
      const e = order[k];
      if (this.isLive(e)) order[to++] = e;
    }
    for (let k = to; k < this.tail; k++) order[k] = undefined;
    this.head = 0;
    this.tail = to;
  }
}

/** The window of a session that has never sent QoS 1/2: shared, read-only (a write is a bug). */
export const EMPTY_WINDOW: InflightWindow = new (class extends InflightWindow {
  override set(): this {
    throw new Error('write to the shared empty inflight window');
  }
})();

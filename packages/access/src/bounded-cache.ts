/** A map with a size bound (the oldest entry goes first) and a time to live per entry. */
export class BoundedCache<V> {
  private readonly map = new Map<string, { value: V; until: number }>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxSize: number,
    private readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string, now = Date.now()): V | undefined {
    const e = this.map.get(key);
    if (e === undefined || e.until <= now) {
      if (e) this.map.delete(key);
      this.misses++;
      return undefined;
    }
    this.hits++;
    return e.value;
  }

  set(key: string, value: V, now = Date.now()): void {
    this.map.delete(key);
    if (this.map.size >= this.maxSize) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, { value, until: now + this.ttlMs });
  }

  clear(): void {
    this.map.clear();
  }
}

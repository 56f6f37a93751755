/**
 * Small keyed tables for what operators write through the API or `vireo ctl` (built-in users,
 * bans, API keys): a few records, written rarely, read whole at start. The store package keeps
 * them in the node's database; `MemoryRecordTables` is for `durable_storage.backend: memory`.
 */

/** One table: string keys to string values (JSON, by convention). */
export interface RecordTable {
  /** Every record, as stored. */
  entries(): [string, string][];
  /** Durable when it returns (one small synchronous transaction): admin writes are rare. */
  put(key: string, value: string): void;
  delete(key: string): void;
}

export interface RecordTables {
  /** A named table (created on first use). */
  table(name: string): RecordTable;
  close(): void;
}

/** Tables that live as long as the process. */
export class MemoryRecordTables implements RecordTables {
  private readonly tables = new Map<string, Map<string, string>>();

  table(name: string): RecordTable {
    let t = this.tables.get(name);
    if (!t) this.tables.set(name, (t = new Map()));
    const map = t;
    return {
      entries: () => [...map],
      put: (key, value) => void map.set(key, value),
      delete: (key) => void map.delete(key),
    };
  }

  close(): void {}
}

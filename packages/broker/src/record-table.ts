/**
 * Small keyed tables for what operators write through the API or `vireo ctl` (built-in users,
 * bans, API keys, traces): a few records, written rarely, read whole at start. The store package
 * keeps them in the node's database; `@vireo/access` has an in-memory kind.
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

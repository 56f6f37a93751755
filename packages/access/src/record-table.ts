/**
 * Record tables that live as long as the process, for `durable_storage.backend: memory`. The
 * interfaces (`RecordTable`, `RecordTables`) stay in the broker, whose trace store uses them
 * too; the store package keeps the durable kind in the node's database.
 */
import type { RecordTable, RecordTables } from '@vireo/broker';

export type { RecordTable, RecordTables };

export class MemoryRecordTables implements RecordTables {
  private readonly tables = new Map<string, Map<string, string>>();

  table(name: string): RecordTable {
    let t = this.tables.get(name);
    if (!t) this.tables.set(name, (t = new Map<string, string>()));
    const map = t;
    return {
      entries: () => [...map],
      put: (key, value) => void map.set(key, value),
      delete: (key) => void map.delete(key),
    };
  }

  close(): void {}
}

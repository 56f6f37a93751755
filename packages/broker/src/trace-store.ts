/**
 * Traces survive a restart: the running ones are kept in a record table of the node's store
 * (rewritten whenever one starts or stops) and started again at start-up, appending to
 * their files, unless their end time passed or their file reached its size cap meanwhile.
 */
import { statSync } from 'node:fs';
import type { Broker } from './broker.js';
import type { RecordTable } from './record-table.js';
import type { TraceSpec } from './trace.js';

export function keepTraces(broker: Broker, table: RecordTable): void {
  const now = Date.now();
  for (const [name, value] of table.entries()) {
    const spec = JSON.parse(value) as TraceSpec;
    if (spec.endAt <= now || fileSize(spec.file) >= spec.maxBytes) {
      table.delete(name);
      continue;
    }
    try {
      broker.startTrace(spec);
    } catch (err) {
      // e.g. a trace kept by an older version, writing outside <data_dir>/trace: dropped
      table.delete(name);
      broker.logger.warn({ trace: name, err: String(err) }, 'Could not restart a trace after the restart');
    }
  }
  broker.on('trace.changed', () => {
    const running = new Map(
      broker.tracer
        .list()
        .filter((t) => t.status === 'running' && t.endAt > Date.now())
        .map((t) => [t.name, t]),
    );
    for (const [name] of table.entries()) if (!running.has(name)) table.delete(name);
    for (const t of running.values()) {
      const spec: TraceSpec = { name: t.name, type: t.type, filter: t.filter, file: t.file, endAt: t.endAt, maxBytes: t.maxBytes };
      table.put(t.name, JSON.stringify(spec));
    }
  });
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

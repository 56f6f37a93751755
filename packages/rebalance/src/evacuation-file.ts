/**
 * An evacuation started through the API or `vireo ctl` outlives a restart of the node (as
 * EMQX's does): its options are kept in `<data_dir>/evacuation.json` until it is stopped, and
 * a node that starts with the file evacuates again, from the beginning. The evacuation that
 * SIGTERM runs (`node.evacuate_on_shutdown`) is not kept: a StatefulSet that scales out again
 * reuses the volume, and that node must take clients.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EvacuationOptions } from './evacuation.js';

export class EvacuationFile {
  constructor(readonly path: string) {}

  save(options: EvacuationOptions): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ evacuation: options, saved_at: new Date().toISOString() }) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  clear(): void {
    rmSync(this.path, { force: true });
  }

  /** The kept options; undefined when there is no file. Throws, naming the file, when it cannot be read. */
  load(): EvacuationOptions | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const o = (JSON.parse(text) as { evacuation?: unknown }).evacuation as Partial<EvacuationOptions> | undefined;
    const n = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (!o || !n(o.wait_health_check) || !n(o.wait_takeover) || !n(o.conn_evict_rate) || !n(o.sess_evict_rate)) throw new Error(`${this.path}: not an evacuation Vireo kept`);
    return o as EvacuationOptions;
  }
}

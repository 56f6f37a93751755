/** What sysmon reads about this process and the host (Linux /proc, with Node.js fallbacks). */
import fs from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';

export interface MemoryUsage {
  /** bytes of the host */
  total: number;
  available: number;
  /** bytes of this process */
  rss: number;
  heapUsed: number;
  heapLimit: number;
}

export interface FdUsage {
  open: number;
  /** the soft limit (`ulimit -n`) */
  limit: number;
}

/** MemAvailable counts what the kernel can reclaim (page cache): os.freemem() does not everywhere. */
function meminfo(): { total: number; available: number } {
  try {
    const text = fs.readFileSync('/proc/meminfo', 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    const total = kb('MemTotal');
    const available = kb('MemAvailable');
    if (Number.isFinite(total) && Number.isFinite(available)) return { total, available };
  } catch {
    // not Linux
  }
  return { total: os.totalmem(), available: os.freemem() };
}

export function readMemory(): MemoryUsage {
  const h = v8.getHeapStatistics();
  return { ...meminfo(), rss: process.memoryUsage.rss(), heapUsed: h.used_heap_size, heapLimit: h.heap_size_limit };
}

/** Open descriptors and the soft limit; undefined where /proc is not there. */
export function readFds(): FdUsage | undefined {
  try {
    const open = fs.readdirSync('/proc/self/fd').length;
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    const limit = m && m[1] !== 'unlimited' ? Number(m[1]) : 0;
    return { open, limit };
  } catch {
    return undefined;
  }
}

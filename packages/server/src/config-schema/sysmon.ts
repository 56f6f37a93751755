/**
 * `sysmon`: what the node watches in itself, and when it raises an alarm (EMQX's key names and
 * defaults where EMQX has the key; the event-loop, heap, descriptor and connection keys are
 * Vireo's, shaped like EMQX's). Percentages are written `70%`.
 */
import { duration, str, type SchemaNode } from '../schema-dsl.js';

/** `70%` → 0.7; undefined when it is not a percentage from 0% to 100%. */
export function parsePercent(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= 100 ? n / 100 : undefined;
}

const percent = (def: string, description: string) =>
  str({ default: def, description, check: (v) => (parsePercent(v) === undefined ? 'a percentage from 0% to 100%, like 70%' : undefined) });

export const sysmonSchema = {
  os: {
    mem_check_interval: duration({
      default: 60_000,
      min: 100,
      max: 2 ** 31 - 1,
      keywords: { disabled: 0 },
      description: 'How often memory is checked (`high_system_memory_usage`, `high_process_memory_usage`); `disabled` turns the check off.',
    }),
    sysmem_high_watermark: percent('70%', 'System memory in use (MemTotal − MemAvailable) at or above which `high_system_memory_usage` is raised; cleared below it.'),
    procmem_high_watermark: percent('5%', "This process's RSS, as a share of system memory, at or above which `high_process_memory_usage` is raised; cleared below it."),
  },
  vm: {
    process_check_interval: duration({
      default: 30_000,
      min: 100,
      max: 2 ** 31 - 1,
      description: 'How often event-loop lag, V8 heap, file descriptors and listener connections are checked.',
    }),
    long_schedule: duration({
      default: 240,
      min: 1,
      max: 2 ** 31 - 1,
      keywords: { disabled: 0 },
      description:
        "Event-loop delay (the longest since the last check) at or above which `high_event_loop_lag` is raised; cleared after a check interval under it. `disabled` turns it off. EMQX's `long_schedule` default.",
    }),
    heap_high_watermark: percent(
      '90%',
      'V8 heap in use, as a share of its limit (`--max-old-space-size`), at or above which `high_heap_usage` is raised: the process is near an out-of-memory crash. Cleared below it.',
    ),
    fd_high_watermark: percent(
      '80%',
      'Open file descriptors, as a share of the process limit (`ulimit -n`), at or above which `too_many_file_descriptors` is raised: past the limit new connections fail.',
    ),
    fd_low_watermark: percent('60%', 'Share of the descriptor limit under which `too_many_file_descriptors` is cleared.'),
    connection_high_watermark: percent(
      '80%',
      "Connections of a listener, as a share of its `max_connections`, at or above which `too_many_connections/<listener>` is raised (EMQX's license connection watermark, per listener here).",
    ),
    connection_low_watermark: percent('75%', 'Share of `max_connections` under which `too_many_connections/<listener>` is cleared.'),
  },
} as const satisfies SchemaNode;

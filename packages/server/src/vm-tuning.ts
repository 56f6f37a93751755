/**
 * V8 settings `vireo start` applies to its own process (like EMQX's vm.args), before the
 * broker allocates anything. Only the CLI calls this: an application that embeds the broker
 * keeps its own V8 settings.
 *
 * `--no-parallel-scavenge`: a young-generation collection then runs on the main thread alone.
 * Under a steady message load almost nothing survives a scavenge (tens of KB of 13 MB), so the
 * work is small; the parallel collector instead waits for V8's helper threads to be scheduled,
 * and on a small machine shared with clients (the benchmark's 2 cores) that wait made each pause
 * 0.5–1.5 ms, and several ms under load, where the main thread alone takes about 0.5 ms
 * (docs/performance.md). The flag is read at each collection, so setting it at start-up works.
 * A user who passes `--parallel-scavenge` (on the command line or in NODE_OPTIONS) keeps it.
 */
import v8 from 'node:v8';

const FLAGS = [{ off: '--no-parallel-scavenge', on: '--parallel-scavenge' }] as const;

/** Applies the defaults the user did not override; returns the flags applied. */
export function tuneVm(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  const applied: string[] = [];
  for (const f of FLAGS) {
    if (given.includes(f.on) || given.includes(f.off)) continue;
    v8.setFlagsFromString(f.off);
    applied.push(f.off);
  }
  return applied;
}

/**
 * Runs real `vireo` processes for tests: spawn with a clean VIREO_* environment,
 * read their JSON log lines, wait (bounded) for a line or for exit, and make sure none
 * outlives the test file, whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dieWithParent } from './orphans.js';
import { freePort } from './harness.js';

/** The built command; tests run after `tsc -b`. */
export const VIREO_CLI = fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url));
/** The installed bin wrapper (what `npx vireo` runs). */
export const VIREO_BIN = fileURLToPath(new URL('../../node_modules/.bin/vireo', import.meta.url));

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface VireoProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout parsed as JSON lines (lines that are not JSON are skipped). */
  logs(): LogLine[];
  /**
   * Resolves with the first log line whose msg contains `text` ('started': the node's start line,
   * once its listeners are up); rejects on exit or after `ms` (at least MIN_PROCESS_WAIT_MS).
   */
  waitForLog(text: string, ms?: number): Promise<LogLine>;
  /** Resolves when the process exits; rejects after `ms` (at least MIN_PROCESS_WAIT_MS; the process is then killed). */
  waitExit(ms?: number): Promise<Exit>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * The least time a wait for a log line or an exit is given, whatever a test asks: on a loaded
 * CI machine (2 cores, many files at once) a node takes seconds to start or stop. A start costs
 * 2-3 s of CPU (modules, the HTTP API's schemas, the warm-up): at a load of 16 on 2 cores, with
 * an eighth of a core, that is 20-30 s, and 30 s was seen to run out (alarms, dashboard-api,
 * cluster-membership at a load of 20). The bound only decides how long a failing test takes to
 * say so; a passing one returns as soon as the line shows.
 */
export const MIN_PROCESS_WAIT_MS = 60_000;

const live = new Set<ChildProcess>();
// A failed or timed-out test must not leave brokers holding ports.
process.once('exit', () => killAllVireo());

export function killAllVireo(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

export interface SpawnOptions {
  args?: string[];
  /** VIREO_* variables for the child; the parent's VIREO_* variables are not passed on. */
  env?: Record<string, string>;
  /** Command to run; defaults to `node VIREO_CLI`. */
  command?: string[];
  cwd?: string;
}

export function spawnVireo(options: SpawnOptions = {}): VireoProcess {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VIREO_')) env[k] = v;
  // the HTTP API's default port (18083) is one per machine: a test that wants it says so
  env.VIREO_DASHBOARD__LISTENERS__HTTP__BIND = '0';
  // the same for the cluster port (5370), which a `manual` node opens too
  env.VIREO_CLUSTER__RPC__BIND = '0';
  // each process gets its own data dir, removed when it exits, unless the test gives one:
  // tests must not share retained messages or sessions
  const ownDataDir = options.env?.VIREO_NODE__DATA_DIR === undefined ? mkdtempSync(join(tmpdir(), 'vireo-data-')) : undefined;
  if (ownDataDir) env.VIREO_NODE__DATA_DIR = ownDataDir;
  Object.assign(env, options.env);
  const [cmd, ...pre] = options.command ?? [process.execPath, VIREO_CLI];
  const child = spawn(cmd ?? process.execPath, [...pre, ...(options.args ?? ['start'])], {
    env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  // and a killed test file (the runner's timeout) leaves none behind either
  dieWithParent(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => {
      live.delete(child);
      if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
      exit = { code, signal };
      resolve(exit);
    }),
  );

  const logs = (): LogLine[] =>
    out.split('\n').flatMap((line) => {
      try {
        const v = JSON.parse(line) as unknown;
        return typeof v === 'object' && v !== null ? [v as LogLine] : [];
      } catch {
        return [];
      }
    });

  const describe = () => `\n--- stdout ---\n${out}\n--- stderr ---\n${err}`;

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs,
    async waitForLog(text, asked = MIN_PROCESS_WAIT_MS) {
      const ms = Math.max(asked, MIN_PROCESS_WAIT_MS);
      // 'started' is the node's own line ("Vireo 0.1.0 started, listening on …"), not "Rule
      // engine started", "Trace started" or "Bridge started", logged before the listeners are up
      const matches = text === 'started' ? (msg: string) => /^Vireo \S+ started\b/.test(msg) : (msg: string) => msg.includes(text);
      const until = Date.now() + ms;
      for (;;) {
        const line = logs().find((l) => typeof l.msg === 'string' && matches(l.msg));
        if (line) return line;
        if (exit) throw new Error(`vireo exited (${JSON.stringify(exit)}) before logging "${text}"${describe()}`);
        if (Date.now() > until) throw new Error(`vireo did not log "${text}" within ${ms} ms${describe()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async waitExit(asked = MIN_PROCESS_WAIT_MS) {
      const ms = Math.max(asked, MIN_PROCESS_WAIT_MS);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`vireo did not exit within ${ms} ms${describe()}`));
        }, ms);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill(signal = 'SIGTERM') {
      child.kill(signal);
    },
  };
}

/** A `vireo start` on a free MQTT port with an in-memory store, once it logged it started; `url` is its mqtt:// URL. */
export async function startMemoryNode(env: Record<string, string>): Promise<{ vireo: VireoProcess; url: string }> {
  const port = await freePort();
  const vireo = spawnVireo({
    env: { VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}`, VIREO_LISTENERS__WS__DEFAULT__BIND: '0', VIREO_DURABLE_STORAGE__BACKEND: 'memory', ...env },
  });
  await vireo.waitForLog('started', 30_000);
  return { vireo, url: `mqtt://127.0.0.1:${port}` };
}

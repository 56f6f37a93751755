/**
 * Real PostgreSQL and Redis for tests, from Debian's packages: each in its own temporary
 * directory on a free port, stoppable and restartable on the same port and data (to test
 * a database that goes away mid-stream), and killed when the test process exits whatever
 * happens. PostgreSQL refuses to run as root: when the tests run as root it runs as the
 * `postgres` user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import pg from 'pg';
import { freePort, waitFor } from './harness.js';
import { dieWithParent } from './orphans.js';

/** Debian's PostgreSQL binaries (the newest version installed), or PG_BIN. */
export const PG_BIN = process.env.PG_BIN ?? newestPgBin();

function newestPgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return join(root, versions[0] ?? '15', 'bin');
}
export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface DbServer {
  port: number;
  /** Stops the server and waits for it to exit (its data stays). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves when it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** Resolves when something accepts TCP connections on the port. */
async function listening(port: number, ms: number, child: () => ChildProcess | undefined, log: () => string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (child()?.exitCode !== null && child()?.exitCode !== undefined) throw new Error(`server exited: ${log()}`);
    if (Date.now() - t0 > ms) throw new Error(`nothing listening on ${port} after ${ms} ms: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function track(child: ChildProcess): { log: () => string; exited: Promise<void> } {
  live.add(child);
  dieWithParent(child);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out = (out + s).slice(-4000)));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (out = (out + s).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => (live.delete(child), resolve())));
  return { log: () => out, exited };
}

async function stopChild(child: ChildProcess | undefined, exited: Promise<void> | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The postgres user's ids when we are root (PostgreSQL will not run as root). */
function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/** A PostgreSQL cluster with trust authentication for `postgres` on 127.0.0.1 and a database `vireo`. */
export async function startPostgres(): Promise<DbServer> {
  if (!existsSync(join(PG_BIN, 'postgres'))) throw new Error(`PostgreSQL is not installed (${PG_BIN}/postgres): apt-get install postgresql`);
  const dir = mkdtempSync(join(tmpdir(), 'vireo-pg-'));
  const ids = postgresIds();
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const data = join(dir, 'data');
  const as = ids ? { uid: ids.uid, gid: ids.gid } : {};
  try {
    execFileSync(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { ...as, stdio: 'pipe', cwd: dir });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> | undefined;
  let log = () => '';
  const start = async () => {
    child = spawn(join(PG_BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off'], {
      ...as,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const t = track(child);
    log = t.log;
    exited = t.exited;
    await listening(port, 30_000, () => child, log);
    // listening is not accepting queries yet (startup, recovery): wait until a query works
    await waitFor(() => psqlOk(port, as), 'PostgreSQL accepts queries', 30_000).catch(async () => {
      throw new Error(`PostgreSQL not ready: ${log()}`);
    });
  };
  const stop = () => stopChild(child, exited, 'SIGINT');
  try {
    await start();
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await c.connect();
    await c.query('CREATE DATABASE vireo');
    await c.end();
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function psqlOk(port: number, as: { uid?: number; gid?: number }): boolean {
  try {
    execFileSync(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-q'], { ...as, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A Redis server saving to its directory on shutdown (so a restart keeps the keys). */
export async function startRedis(): Promise<DbServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`Redis is not installed (${REDIS_SERVER}): apt-get install redis-server`);
  const dir = mkdtempSync(join(tmpdir(), 'vireo-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> | undefined;
  const start = async () => {
    child = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '3600 1', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'yes'],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const t = track(child);
    exited = t.exited;
    await listening(port, 15_000, () => child, t.log);
  };
  const stop = () => stopChild(child, exited, 'SIGTERM');
  try {
    await start();
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

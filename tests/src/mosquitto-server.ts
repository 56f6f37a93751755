/**
 * A real Mosquitto broker for bridge tests (Debian package `mosquitto`; .ci/run installs
 * it): its own config on a free loopback port, started and stopped by the test, killed
 * when the test process exits whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './harness.js';
import { dieWithParent } from './orphans.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface Mosquitto {
  port: number;
  url: string;
  /** Its config and persistence file: give it to `startMosquitto` again to restart on it. */
  dir: string;
  log(): string;
  /** SIGTERM lets Mosquitto save its sessions (persistence on) before it exits. */
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts Mosquitto on `port` (anonymous clients allowed, sessions persisted in `dir` on a
 * graceful stop, plus `extraConf` lines) and waits until it accepts. Remove `dir` when done with it.
 */
export async function startMosquitto(port: number, dir = mkdtempSync(join(tmpdir(), 'vireo-mosquitto-')), extraConf: string[] = []): Promise<Mosquitto> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} not found: install the Debian package mosquitto (apt-get install -y mosquitto); .ci/run installs it`);
  // started as root, Mosquitto drops to the `mosquitto` user, which must still write its sessions here
  chmodSync(dir, 0o777);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'log_dest stderr', 'log_type all', ...extraConf, ''].join('\n'),
  );
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  dieWithParent(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`mosquitto did not start on port ${port}:\n${out}`);
    }
    await sleep(20);
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    log: () => out,
    async stop(signal = 'SIGKILL') {
      child.kill(signal);
      await exited;
      live.delete(child);
    },
  };
}

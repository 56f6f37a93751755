/**
 * A real etcd (Debian's etcd-server) for tests: started on free loopback ports with a
 * temporary data dir, stopped and removed after. Read through its JSON gateway.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './harness.js';
import { dieWithParent } from './orphans.js';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

export interface EtcdServer {
  url: string;
  /** Keys and values under `prefix`. */
  list(prefix: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export async function startEtcd(clientPort?: number): Promise<EtcdServer> {
  const client = clientPort ?? (await freePort());
  const peer = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vireo-etcd-'));
  const url = `http://127.0.0.1:${client}`;
  const child = spawn(
    ETCD_BIN,
    [
      '--name',
      'test',
      '--data-dir',
      dir,
      '--listen-client-urls',
      url,
      '--advertise-client-urls',
      url,
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `test=http://127.0.0.1:${peer}`,
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  running.add(child);
  dieWithParent(child);
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<void>((r) => child.once('close', () => r()));

  const list = async (prefix: string): Promise<Record<string, string>> => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    const res = await fetch(`${url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }) });
    const body = (await res.json()) as { kvs?: { key: string; value: string }[] };
    const out: Record<string, string> = {};
    for (const kv of body.kvs ?? []) out[Buffer.from(kv.key, 'base64').toString()] = Buffer.from(kv.value, 'base64').toString();
    return out;
  };

  const until = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`etcd did not start: ${err}`);
    }
    await sleep(50);
  }
  return {
    url,
    list,
    async stop() {
      child.kill('SIGKILL');
      await exited;
      running.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

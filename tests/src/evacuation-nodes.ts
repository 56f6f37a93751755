/**
 * Real nodes for the evacuation tests: `vireo start` processes clustered by static seeds,
 * each with its HTTP API (an API key `ops:<secret>`) and its own data dir, so sessions are
 * stored on disk as in production.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './harness.js';
import { spawnVireo, type VireoProcess } from './vireo-process.js';
import type { LbBackend } from './lb-proxy.js';

export const API_KEY = 'ops:evac-s3cret';
export const AUTH = `Basic ${Buffer.from(API_KEY).toString('base64')}`;

export interface EvacNode extends LbBackend {
  node: string;
  rpcPort: number;
  proc: VireoProcess;
  /** What `vireo ctl` needs to reach this node's API. */
  ctlEnv: Record<string, string>;
  /** The node's VIREO_* variables: `spawnVireo({ env })` starts it again on the same data dir. */
  env: Record<string, string>;
}

export interface EvacCluster {
  nodes: EvacNode[];
  dir: string;
  /** Kills what is still running and removes the files. */
  cleanup(): void;
}

/** Starts nodes `names` (short names; the node is `<name>@127.0.0.1`), `extra[name]` adding env. */
export async function startEvacCluster(names: string[], extra: Record<string, Record<string, string>> = {}): Promise<EvacCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-evac-'));
  const keyFile = path.join(dir, 'keys');
  writeFileSync(keyFile, `${API_KEY}\n`);
  const ports: { rpc: number; mqtt: number; http: number }[] = [];
  for (const _ of names) ports.push({ rpc: await freePort(), mqtt: await freePort(), http: await freePort() });
  const seeds = `[${ports.map((p) => `127.0.0.1:${p.rpc}`).join(', ')}]`;
  const nodes = names.map((name, i): EvacNode => {
    const p = ports[i]!;
    const env = {
      VIREO_NODE__NAME: `${name}@127.0.0.1`,
      VIREO_NODE__COOKIE: 'evacuation-test-cookie-0123456789',
      VIREO_NODE__DATA_DIR: path.join(dir, name),
      VIREO_CLUSTER__DISCOVERY_STRATEGY: 'static',
      VIREO_CLUSTER__STATIC__SEEDS: seeds,
      VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${p.rpc}`,
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${p.mqtt}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${p.http}`,
      VIREO_API_KEY__BOOTSTRAP_FILE: keyFile,
      ...extra[name],
    };
    const ctlEnv = { VIREO_CTL_URL: `http://127.0.0.1:${p.http}`, VIREO_CTL_API_KEY: API_KEY };
    return { name, node: `${name}@127.0.0.1`, rpcPort: p.rpc, mqttPort: p.mqtt, httpPort: p.http, proc: spawnVireo({ env }), ctlEnv, env };
  });
  return {
    nodes,
    dir,
    cleanup: () => {
      for (const n of nodes) n.proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** GET/POST on a node's API with the test key; the parsed JSON body and the status. */
export async function api(n: EvacNode, method: string, p: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${n.httpPort}${p}`, {
    method,
    headers: { authorization: AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

/** The status code of a node's availability_check (unauthenticated, as a load balancer asks). */
export async function availability(n: EvacNode): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${n.httpPort}/api/v5/load_rebalance/availability_check`, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

/** Waits until every node listens for MQTT (its listeners open last) and its `GET /api/v5/cluster` shows all of `nodes` running. */
export async function waitClustered(nodes: EvacNode[], ms = 60_000): Promise<void> {
  const want = nodes
    .map((n) => n.node)
    .sort()
    .join(',');
  const until = Date.now() + ms;
  for (const n of nodes) {
    for (;;) {
      const r = await api(n, 'GET', '/api/v5/cluster').catch(() => undefined);
      const running = (r?.body as { running_nodes?: string[] } | undefined)?.running_nodes;
      if (running && [...running].sort().join(',') === want) break;
      if (Date.now() > until) throw new Error(`${n.node} did not see ${want} running within ${ms} ms\n${n.proc.stdout().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // a node joins its cluster before its MQTT listeners open (they open last, after the warm-up)
    await n.proc.waitForLog('started', ms);
  }
}

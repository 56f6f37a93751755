/**
 * Real nodes for the dashboard's tests: each with its HTTP API (and the page) on a free
 * port, an administrator `admin` bootstrapped from VIREO_DASHBOARD__DEFAULT_PASSWORD, an API
 * key, fast time-series sampling, and a WebSocket listener; plus the calls the tests make
 * (sign in, API calls with a token or a key, polling until something holds).
 */
import { freePort, waitFor } from './harness.js';
import { startNode, waitMembers, type ClusterNode } from './cluster-nodes.js';

export const ADMIN_PASSWORD = 'Adm1n-secret';
export const API_KEY = `Basic ${Buffer.from('ops:dash-key-secret').toString('base64')}`;

export interface DashNode extends ClusterNode {
  http: number;
  ws: number;
  /** `http://127.0.0.1:<http>` */
  base: string;
}

/**
 * Starts `n` clustered nodes (static seeds) and waits until each sees all; `keyFile` holds
 * `ops:dash-key-secret`. `extraEnv` adds or overrides VIREO_* keys on every node.
 */
export async function startDashCluster(
  n: number,
  prefix: string,
  keyFile: string,
  extraEnv: Record<string, string> = {},
  /** VIREO_* keys for node `i` alone (e.g. its own file paths) */
  perNode: (i: number) => Record<string, string> = () => ({}),
): Promise<DashNode[]> {
  const rpc: number[] = [];
  for (let i = 0; i < n; i++) rpc.push(await freePort());
  const nodes: DashNode[] = [];
  for (let i = 0; i < n; i++) {
    const [http, ws, mqttPort] = [await freePort(), await freePort(), await freePort()];
    const node = startNode({
      name: `${prefix}${i}@127.0.0.1`,
      rpcPort: rpc[i]!,
      mqttPort,
      seeds: rpc,
      extraEnv: {
        VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${http}`,
        VIREO_LISTENERS__WS__DEFAULT__BIND: `127.0.0.1:${ws}`,
        VIREO_API_KEY__BOOTSTRAP_FILE: keyFile,
        VIREO_DASHBOARD__DEFAULT_PASSWORD: ADMIN_PASSWORD,
        VIREO_DASHBOARD__SAMPLE_INTERVAL: '1s',
        ...extraEnv,
        ...perNode(i),
      },
    });
    nodes.push({ ...node, http, ws, base: `http://127.0.0.1:${http}` });
  }
  const names = nodes.map((x) => x.name);
  // a node alone logs no membership change
  if (n > 1) await Promise.all(nodes.map((x) => waitMembers(x, names, 40_000)));
  // the API answers once the node logged it listening
  await Promise.all(nodes.map((x) => x.proc.waitForLog('started', 40_000)));
  return nodes;
}

export interface Answer<T = unknown> {
  status: number;
  json: T;
  headers: Headers;
}

/** An API call; `auth` is a whole Authorization value (`Bearer …` or `Basic …`), or none. */
export async function call<T = unknown>(base: string, method: string, path: string, auth?: string, body?: unknown): Promise<Answer<T>> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the text
  }
  return { status: res.status, json: json as T, headers: res.headers };
}

/** Signs in; the `Authorization` value to send. */
export async function signIn(base: string, username: string, password: string): Promise<string> {
  const r = await call<{ token: string }>(base, 'POST', '/api/v5/login', undefined, { username, password });
  if (r.status !== 200) throw new Error(`sign-in as ${username} failed: ${r.status} ${JSON.stringify(r.json)}`);
  return `Bearer ${r.json.token}`;
}

/** Polls `probe` until it returns something other than undefined/false; rejects naming `what` after `ms`. */
export async function eventually<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 15_000): Promise<T> {
  let v: T | undefined | false;
  await waitFor(async () => (v = await probe()) !== undefined && v !== false, what, ms, 100);
  return v as T;
}

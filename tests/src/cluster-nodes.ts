/**
 * Real multi-node clusters for tests: one `vireo start` process per node, configured only
 * through the VIREO_* environment, on free loopback ports, with static discovery.
 */
import type { MqttClient } from 'mqtt';
import { freePort, waitFor } from './harness.js';
import { MIN_PROCESS_WAIT_MS, spawnVireo, type LogLine, type VireoProcess } from './vireo-process.js';

export interface ClusterNode {
  name: string;
  rpcPort: number;
  mqttPort: number;
  url: string;
  proc: VireoProcess;
  env: Record<string, string>;
}

export interface NodeSpec {
  name: string;
  rpcPort: number;
  mqttPort: number;
  seeds: number[];
  cookie?: string;
  extraEnv?: Record<string, string>;
}

/** The last node started under each name in this test file: a failed membership wait shows their logs. */
const started = new Map<string, ClusterNode>();

export function startNode(spec: NodeSpec): ClusterNode {
  const env: Record<string, string> = {
    VIREO_NODE__NAME: spec.name,
    VIREO_NODE__COOKIE: spec.cookie ?? 'cluster-test-cookie',
    VIREO_CLUSTER__DISCOVERY_STRATEGY: 'static',
    VIREO_CLUSTER__STATIC__SEEDS: `[${spec.seeds.map((p) => `127.0.0.1:${p}`).join(', ')}]`,
    VIREO_CLUSTER__RPC__BIND: `127.0.0.1:${spec.rpcPort}`,
    VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${spec.mqttPort}`,
    VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
    ...spec.extraEnv,
  };
  const node = { name: spec.name, rpcPort: spec.rpcPort, mqttPort: spec.mqttPort, url: `mqtt://127.0.0.1:${spec.mqttPort}`, proc: spawnVireo({ env }), env };
  started.set(spec.name, node);
  return node;
}

/**
 * The end of a node's stdout and stderr, with its ports and whether it is still running: what
 * a failed cluster wait prints for each node involved (a peer that never joined is usually
 * the one whose log says why).
 */
export function describeNode(node: ClusterNode, chars = 3000): string {
  const { exitCode, signalCode, pid } = node.proc.child;
  const state = exitCode === null && signalCode === null ? `running (pid ${pid})` : `exited (code ${exitCode}, signal ${signalCode})`;
  const out = node.proc.stdout();
  const err = node.proc.stderr();
  return (
    `--- ${node.name}: rpc ${node.rpcPort}, mqtt ${node.mqttPort}, ${state} ---\n` +
    `stdout (last ${Math.min(chars, out.length)} of ${out.length} chars):\n${out.slice(-chars)}\n` +
    `stderr (last ${Math.min(chars, err.length)} of ${err.length} chars):\n${err.slice(-chars)}`
  );
}

/** `node` first, then the other nodes of `names` this test file started (each one's last start). */
function describeMembers(node: ClusterNode, names: string[]): string {
  const others = names.filter((n) => n !== node.name).flatMap((n) => started.get(n) ?? []);
  const unknown = names.filter((n) => n !== node.name && !started.has(n));
  return [node, ...others].map((n) => describeNode(n)).join('\n') + (unknown.length ? `\n(not started by this file: ${unknown.join(', ')})` : '');
}

/** A cluster node with its HTTP API on a free port (`http`). */
export type ApiClusterNode = ClusterNode & { http: number };

/**
 * Node `<prefix><i>@127.0.0.1` of a cluster whose RPC ports are `rpc` (each a seed), with its
 * HTTP API on a free port and the API keys of `keyFile`; `extraEnv` adds VIREO_* keys.
 */
export async function startApiNode(prefix: string, i: number, rpc: number[], keyFile: string, extraEnv: Record<string, string> = {}): Promise<ApiClusterNode> {
  const http = await freePort();
  const node = startNode({
    name: `${prefix}${i}@127.0.0.1`,
    rpcPort: rpc[i]!,
    mqttPort: await freePort(),
    seeds: rpc,
    extraEnv: { VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${http}`, VIREO_API_KEY__BOOTSTRAP_FILE: keyFile, ...extraEnv },
  });
  return { ...node, http };
}

/** Starts `n` nodes that all list every node as a seed. */
export async function startCluster(n: number, prefix = 'vireo'): Promise<ClusterNode[]> {
  const rpc: number[] = [];
  const mqtt: number[] = [];
  for (let i = 0; i < n; i++) {
    rpc.push(await freePort());
    mqtt.push(await freePort());
  }
  return rpc.map((p, i) => startNode({ name: `${prefix}${i}@127.0.0.1`, rpcPort: p, mqttPort: mqtt[i]!, seeds: rpc }));
}

export function logsMatching(node: ClusterNode, msg: string, pred: (l: LogLine) => boolean = () => true): LogLine[] {
  return node.proc.logs().filter((l) => typeof l.msg === 'string' && l.msg.includes(msg) && pred(l));
}

/** Waits until a log line with `msg` (and matching `pred`) appears (within `ms`, at least MIN_PROCESS_WAIT_MS). */
export async function waitLog(node: ClusterNode, msg: string, pred: (l: LogLine) => boolean = () => true, asked = MIN_PROCESS_WAIT_MS): Promise<LogLine> {
  const ms = Math.max(asked, MIN_PROCESS_WAIT_MS);
  let hit: LogLine | undefined;
  await waitFor(() => (hit = logsMatching(node, msg, pred)[0]) !== undefined, `${node.name} to log "${msg}"`, ms, 20).catch((err: Error) => {
    throw new Error(`${err.message} (${ms} ms)\n${node.proc.stdout().slice(-3000)}`);
  });
  return hit!;
}

/**
 * Waits until `node` sees every name in `names` running (its `nodes` list in the last membership
 * log), and has started (its listeners open). Nodes that start together on a loaded machine take
 * tens of seconds: at least 60 s.
 */
export async function waitMembers(node: ClusterNode, names: string[], asked = 60_000): Promise<void> {
  const ms = Math.max(asked, 60_000);
  const want = [...names].sort().join(',');
  // the node waited on is its name's current one (also when the test built it without startNode)
  started.set(node.name, node);
  const seen = () => {
    const lines = node.proc.logs().filter((l) => Array.isArray(l.nodes));
    const last = lines[lines.length - 1];
    if (last !== undefined && [...(last.nodes as string[])].sort().join(',') === want) return true;
    // a node that exited will not join: say so now, with its log, rather than after the bound
    const gone = [node, ...names.flatMap((n) => started.get(n) ?? [])].find((n) => n.proc.child.exitCode !== null || n.proc.child.signalCode !== null);
    if (gone) throw new Error(`${node.name} waiting for members ${want}: ${gone.name} exited`);
    return false;
  };
  // the log is parsed whole each time: every 50 ms is enough
  await waitFor(seen, `${node.name} to see members ${want}`, ms, 50).catch((err: Error) => {
    throw new Error(`${err.message} (bound ${ms} ms)\n${describeMembers(node, names)}`);
  });
  // a node joins its cluster before its MQTT listeners open (they open last, after the warm-up):
  // a test that waited for the members connects clients next
  await node.proc.waitForLog('started');
}

let syncSeq = 0;

/**
 * Returns once `publisher`'s node knows every route the `subscribers` have made so far. A
 * node's route changes reach a peer over one ordered stream, so when a fresh probe
 * subscription made after them delivers, the earlier ones have arrived too.
 */
export async function syncRoutes(publisher: MqttClient, subscribers: MqttClient[], ms = 30_000): Promise<void> {
  const topic = `sync/${process.pid}/${++syncSeq}`;
  const got = new Set<MqttClient>();
  const handlers = subscribers.map((c) => {
    const h = (t: string) => {
      if (t === topic) got.add(c);
    };
    c.on('message', h);
    return h;
  });
  try {
    await Promise.all(subscribers.map((c) => c.subscribeAsync(topic, { qos: 0 })));
    // a probe every 50 ms until each subscriber has one
    const arrived = () => {
      if (got.size >= subscribers.length) return true;
      publisher.publish(topic, 'sync', { qos: 0 });
      return false;
    };
    await waitFor(arrived, `routes to reach the publisher's node (${ms} ms)`, ms, 50);
    await Promise.all(subscribers.map((c) => c.unsubscribeAsync(topic)));
  } finally {
    subscribers.forEach((c, i) => c.removeListener('message', handlers[i]!));
  }
}

/**
 * Hands this node's persistent sessions to other nodes at a rate (evacuation's last phase):
 * each goes through the takeover protocol driven by this node (`ClusterLink.pushSession`):
 * subscriptions, queued and inflight messages, QoS 2 state, a delayed will and the expiry
 * time; what arrives for it while it moves is queued by a stand-in here and follows it.
 * Targets are chosen by session count (the cluster's client registry), the emptiest first.
 */
import type { Broker } from '@vireo/broker';
import { sleep } from './connection-evictor.js';

export interface PushSessionsOptions {
  /** Sessions per second (EMQX's `sess_evict_rate`), at least 1. */
  rate: number;
  /** The nodes that may receive sessions (EMQX's `migrate_to`); default: every running peer. */
  targets?: readonly string[];
  signal?: AbortSignal;
  /** The sessions to move, read again each round (default: every persistent one, movableSessions). */
  sessions?: () => string[];
  /** At most this many (default: all of them); rebalancing moves a share. */
  limit?: number;
  /** Called after each session: where it went, or undefined when it stayed here. */
  onPushed?: (clientId: string, node: string | undefined) => void;
}

export interface PushResult {
  pushed: number;
  failed: number;
}

/** How many pushes may wait for their receiver at once (a round trip each). */
const WINDOW = 64;

/** The sessions a push can move: persistent ones; a stand-in of a session already leaving is skipped by the broker. */
export function movableSessions(broker: Pick<Broker, 'allSessions'>): string[] {
  const out: string[] = [];
  for (const s of broker.allSessions()) if (s.expiryInterval !== 0) out.push(s.clientId);
  return out;
}

/** The running peers that may take sessions now, `targets` applied. */
export function recipients(broker: Pick<Broker, 'cluster'>, targets: readonly string[] | undefined): string[] {
  const self = broker.cluster.node;
  const running = broker.cluster.nodes().filter((n) => n !== self);
  return targets && targets.length > 0 ? running.filter((n) => targets.includes(n)) : running;
}

export async function pushSessions(broker: Pick<Broker, 'allSessions' | 'cluster' | 'logger'>, o: PushSessionsOptions): Promise<PushResult> {
  const cluster = broker.cluster;
  const result: PushResult = { pushed: 0, failed: 0 };
  if (!cluster.pushSession) return result;
  const rate = Math.max(1, o.rate);
  // session counts: what the peers reported at the start, plus what this run sent them
  const counts = new Map<string, number>(Object.entries(cluster.sessionCounts?.() ?? {}));
  const tried = new Set<string>();
  // a node that failed a push gets no more in this run (the evacuation runs a few)
  const failing = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let tokens = Math.min(rate, 1);
  let last = Date.now();
  while (!o.signal?.aborted) {
    const nodes = recipients(broker, o.targets).filter((n) => !failing.has(n));
    if (nodes.length === 0) {
      broker.logger.warn({ targets: o.targets ?? 'all' }, 'No running node left to take the sessions in this round');
      break;
    }
    if (tried.size >= (o.limit ?? Infinity)) break;
    const todo = (o.sessions?.() ?? movableSessions(broker)).filter((id) => !tried.has(id));
    if (todo.length === 0) break;
    const now = Date.now();
    tokens = Math.min(rate, tokens + ((now - last) / 1000) * rate);
    last = now;
    for (const clientId of todo) {
      if (tokens < 1 || inFlight.size >= WINDOW || o.signal?.aborted || tried.size >= (o.limit ?? Infinity)) break;
      tokens -= 1;
      tried.add(clientId);
      const node = leastLoaded(nodes, counts);
      counts.set(node, (counts.get(node) ?? 0) + 1);
      const p = cluster.pushSession(clientId, node).then(
        (ok) => {
          inFlight.delete(p);
          if (ok) result.pushed++;
          else {
            result.failed++;
            failing.add(node);
            counts.set(node, (counts.get(node) ?? 1) - 1);
          }
          o.onPushed?.(clientId, ok ? node : undefined);
        },
        () => {
          inFlight.delete(p);
          result.failed++;
          failing.add(node);
          o.onPushed?.(clientId, undefined);
        },
      );
      inFlight.add(p);
    }
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
    else await sleep(tokens < 1 ? Math.max(10, Math.ceil(((1 - tokens) / rate) * 1000)) : 10, o.signal);
  }
  await Promise.all(inFlight);
  return result;
}

function leastLoaded(nodes: readonly string[], counts: ReadonlyMap<string, number>): string {
  let best = nodes[0]!;
  for (const n of nodes) if ((counts.get(n) ?? 0) < (counts.get(best) ?? 0)) best = n;
  return best;
}

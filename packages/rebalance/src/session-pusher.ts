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
const WINDOW = 256;

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

export async function pushSessions(broker: Pick<Broker, 'allSessions' | 'session' | 'cluster' | 'logger'>, o: PushSessionsOptions): Promise<PushResult> {
  const cluster = broker.cluster;
  const result: PushResult = { pushed: 0, failed: 0 };
  if (!cluster.pushSession) return result;
  const push = cluster.pushSession.bind(cluster);
  const rate = Math.max(1, o.rate);
  const limit = o.limit ?? Infinity;
  // session counts: what the peers reported at the start, plus what this run sent them
  const counts = new Map<string, number>(Object.entries(cluster.sessionCounts?.() ?? {}));
  const tried = new Set<string>();
  // a node that failed a push gets no more in this run (the evacuation runs a few)
  const failing = new Set<string>();
  let inFlight = 0;
  // one waiter for "a push finished", rather than a Promise.race over every push in flight
  let wake: (() => void) | undefined;
  const finished = (): void => {
    inFlight--;
    wake?.();
  };
  // the candidates, read again once each of them was tried (reading them after every push
  // cost a pass over every session per push)
  let todo: string[] = [];
  let next = 0;
  let tokens = Math.min(rate, 1);
  let last = Date.now();
  while (!o.signal?.aborted) {
    const nodes = recipients(broker, o.targets).filter((n) => !failing.has(n));
    if (nodes.length === 0) {
      broker.logger.warn({ targets: o.targets ?? 'all' }, 'No running node left to take the sessions in this round');
      break;
    }
    if (tried.size >= limit) break;
    if (next >= todo.length) {
      todo = (o.sessions?.() ?? movableSessions(broker)).filter((id) => !tried.has(id));
      next = 0;
      if (todo.length === 0) break;
    }
    const now = Date.now();
    tokens = Math.min(rate, tokens + ((now - last) / 1000) * rate);
    last = now;
    while (next < todo.length) {
      if (tokens < 1 || inFlight >= WINDOW || o.signal?.aborted || tried.size >= limit) break;
      const clientId = todo[next++]!;
      tried.add(clientId);
      // gone since the list was read (its client took it over elsewhere, or it expired): not a failure
      const s = broker.session(clientId);
      if (!s || s.expiryInterval === 0) continue;
      tokens -= 1;
      const node = leastLoaded(nodes, counts);
      counts.set(node, (counts.get(node) ?? 0) + 1);
      inFlight++;
      push(clientId, node).then(
        (ok) => {
          if (ok) result.pushed++;
          else {
            result.failed++;
            failing.add(node);
            counts.set(node, (counts.get(node) ?? 1) - 1);
          }
          o.onPushed?.(clientId, ok ? node : undefined);
          finished();
        },
        () => {
          result.failed++;
          failing.add(node);
          o.onPushed?.(clientId, undefined);
          finished();
        },
      );
    }
    if (inFlight >= WINDOW) await new Promise<void>((r) => (wake = r));
    else if (next < todo.length || tokens < 1) await sleep(tokens < 1 ? Math.max(10, Math.ceil(((1 - tokens) / rate) * 1000)) : 10, o.signal);
    // every candidate handed out: wait for the pushes in flight before reading the list again
    else if (inFlight > 0) await new Promise<void>((r) => (wake = r));
    wake = undefined;
  }
  while (inFlight > 0) await new Promise<void>((r) => (wake = r));
  return result;
}

function leastLoaded(nodes: readonly string[], counts: ReadonlyMap<string, number>): string {
  let best = nodes[0]!;
  for (const n of nodes) if ((counts.get(n) ?? 0) < (counts.get(best) ?? 0)) best = n;
  return best;
}

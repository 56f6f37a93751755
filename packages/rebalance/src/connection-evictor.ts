/**
 * Disconnects this node's clients at a rate so that they reconnect elsewhere (EMQX's
 * eviction agent): v5 clients get DISCONNECT 0x9C (Use another server) with the Server
 * Reference when one is given, 3.1.1 clients are closed. Their sessions stay here, offline,
 * until the clients take them over from the node they reconnect to (takeover) or evacuation
 * pushes them away (session-pusher.ts).
 *
 * For rebalancing: call it with `count` (how many connections this node should shed) and,
 * if it matters which clients go, `pick`; stop it early with `signal`. Pair it with
 * `NodeLoad.giveAway` so that the load balancer does not send the clients straight back.
 */
import type { Broker } from '@vireo/broker';

export interface EvictConnectionsOptions {
  /** Connections per second (EMQX's `conn_evict_rate`), at least 1. */
  rate: number;
  /** At most this many (default: until no client is connected here). */
  count?: number;
  /** MQTT 5 Server Reference for the DISCONNECT (EMQX's `redirect_to`). */
  serverReference?: string;
  /** The clients to evict, in order, read again each round (default: every connected client). */
  pick?: () => Iterable<string>;
  /** Stops the eviction (it resolves with what it did so far). */
  signal?: AbortSignal;
  /** Called after each evicted client. */
  onEvicted?: (clientId: string) => void;
}

/** How often the evictor wakes up; each round evicts what the rate allows since the last one. */
const TICK_MS = 100;

/** Evicts connections at `rate`; resolves with how many it evicted. */
export async function evictConnections(broker: Pick<Broker, 'evictConnection' | 'connectedClientIds'>, o: EvictConnectionsOptions): Promise<number> {
  const rate = Math.max(1, o.rate);
  const limit = o.count ?? Infinity;
  const pick = o.pick ?? (() => broker.connectedClientIds());
  const done = new Set<string>();
  let evicted = 0;
  // a token bucket: up to one second's worth may go at once
  let tokens = Math.min(rate, 1);
  let last = Date.now();
  while (evicted < limit && !o.signal?.aborted) {
    const now = Date.now();
    tokens = Math.min(rate, tokens + ((now - last) / 1000) * rate);
    last = now;
    let left = false;
    for (const id of pick()) {
      if (done.has(id)) continue;
      left = true;
      if (tokens < 1 || evicted >= limit) break;
      done.add(id);
      if (!broker.evictConnection(id, o.serverReference)) continue;
      tokens -= 1;
      evicted++;
      o.onEvicted?.(id);
    }
    if (!left) break;
    await sleep(Math.max(TICK_MS, tokens < 1 ? Math.ceil(((1 - tokens) / rate) * 1000) : 0), o.signal);
  }
  return evicted;
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

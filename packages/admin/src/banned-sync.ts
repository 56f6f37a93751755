/**
 * Bans hold on every node, as EMQX's do: the API writes each change through to every
 * running node (the `banned.*` admin calls), and a node that joins later, or whose API
 * starts, gets the bans it lacks (pushed by the others, pulled by itself). A ban lifted
 * while a node was away comes back from that node when it rejoins: lift it again.
 */
import type { AccessControl, Ban, BanKind, Broker } from '@vireo/broker';
import type { ClusterQuery } from './cluster-query.js';

/** A ban as JSON carries it (Infinity is not JSON). */
export type WireBan = Omit<Ban, 'until'> & { until: number | null };

export const toWire = (b: Ban): WireBan => ({ ...b, until: b.until === Infinity ? null : b.until });
const fromWire = (w: WireBan): Ban => ({ as: w.as, who: w.who, by: w.by, reason: w.reason, at: w.at, until: w.until ?? Infinity });

function banArg(a: Record<string, unknown>): WireBan {
  const b = a.ban as WireBan | undefined;
  if (!b || typeof b.as !== 'string' || typeof b.who !== 'string' || typeof b.at !== 'number') throw new Error('ban: {as, who, by, reason, at, until} is required');
  return b;
}

/** This node's part: add, delete, clear and list, for the API of any node. */
export function bannedOps(access: AccessControl): Record<string, (a: Record<string, unknown>) => unknown> {
  return {
    // answers how many connected clients of this node the ban kicked
    'banned.add': (a) => access.ban(fromWire(banArg(a))),
    'banned.delete': (a) => access.banned.delete(a.as as BanKind, String(a.who)),
    'banned.clear': () => {
      const all = access.banned.list();
      for (const b of all) access.banned.delete(b.as, b.who);
      return all.length;
    },
    'banned.list': () => access.banned.list().map(toWire),
  };
}

export function syncBans(broker: Broker, access: AccessControl, q: ClusterQuery): () => void {
  const push = (node: string) => {
    const bans = access.banned.list();
    for (const b of bans) {
      void q.call(node, 'banned.add', { ban: toWire(b) }).catch((err: unknown) =>
        broker.logger.warn({ on_node: node, as: b.as, who: b.who, err: String(err) }, 'Could not copy a ban to a node that joined'),
      );
    }
    if (bans.length) broker.logger.info({ on_node: node, bans: bans.length }, 'Bans copied to a node that joined');
  };
  let known = new Set(broker.cluster.nodes());
  const onChange = (nodes: string[]) => {
    const fresh = nodes.filter((n) => !known.has(n) && n !== q.self);
    known = new Set(nodes);
    for (const node of fresh) push(node);
  };
  broker.on('cluster.nodes_changed', onChange);

  const others = q.nodes().filter((n) => n !== q.self);
  if (others.length > 0) {
    void q.gather<WireBan[]>('banned.list', {}, others).then((g) => {
      for (const p of g.parts) for (const w of p.value) if (!access.banned.get(w.as, w.who)) access.ban(fromWire(w));
    });
  }
  return () => broker.off('cluster.nodes_changed', onChange);
}

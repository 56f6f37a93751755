/**
 * Keeps a small table the same on every node (bans, built-in users, API keys), as EMQX's
 * replicated tables are: the API changes this node's copy, then copies the entry to every
 * other running node (the `<name>.put|delete` admin calls); a node that joins later, or
 * whose API starts, gets the entries it lacks (pushed by its peers, pulled by itself). No
 * deletion markers: an entry deleted while a node was away comes back from that node when
 * it rejoins, and an entry changed on both sides of a partition keeps each side's until it
 * is changed again.
 */
import type { Broker } from '@vireo/broker';
import type { ClusterQuery } from './cluster-query.js';

export interface SyncedTable<T> {
  /** Prefix of the admin calls and the noun in logs: `banned`, `users`, `api_keys`. */
  readonly name: string;
  entries(): [string, T][];
  get(id: string): T | undefined;
  /** Replaces (or adds) an entry another node sent. */
  put(id: string, value: T): void;
  delete(id: string): boolean;
  /** The value arrived as JSON from a peer: is it one? */
  valid(value: unknown): value is T;
}

type Op = (a: Record<string, unknown>) => unknown;

/** This node's part: put (replace, or only when missing), delete, list. */
export function tableOps<T>(t: SyncedTable<T>): Record<string, Op> {
  return {
    [`${t.name}.put`]: (a) => {
      const id = String(a.id);
      if (!t.valid(a.value)) throw new Error(`${t.name}: not a valid entry`);
      if (a.onlyIfMissing === true && t.get(id) !== undefined) return false;
      t.put(id, a.value);
      return true;
    },
    [`${t.name}.delete`]: (a) => t.delete(String(a.id)),
    [`${t.name}.list`]: () => t.entries(),
  };
}

/** After a change of `id` here: the same on every other node (a node that misses it gets it when it rejoins). */
export async function copyEntry<T>(broker: Broker, q: ClusterQuery, t: SyncedTable<T>, id: string): Promise<void> {
  const others = q.nodes().filter((n) => n !== q.self);
  if (others.length === 0) return;
  const value = t.get(id);
  const g = value === undefined ? await q.gather(`${t.name}.delete`, { id }, others) : await q.gather(`${t.name}.put`, { id, value }, others);
  for (const e of g.errors) broker.logger.warn({ table: t.name, id, on_node: e.node, err: e.message }, 'Could not copy a change to a node; it gets it when it rejoins');
}

/** Pushes this node's entries to nodes that join, and pulls the others' once now. */
export function syncTable<T>(broker: Broker, q: ClusterQuery, t: SyncedTable<T>): () => void {
  const push = (node: string) => {
    const all = t.entries();
    for (const [id, value] of all) void q.call(node, `${t.name}.put`, { id, value, onlyIfMissing: true }).catch(() => undefined);
    if (all.length) broker.logger.info({ table: t.name, on_node: node, entries: all.length }, 'Copied to a node that joined');
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
    void q.gather<[string, unknown][]>(`${t.name}.list`, {}, others).then((g) => {
      for (const p of g.parts) for (const [id, value] of p.value) if (t.get(id) === undefined && t.valid(value)) t.put(id, value);
    });
  }
  return () => broker.off('cluster.nodes_changed', onChange);
}

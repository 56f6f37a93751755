import { SubscriptionTrie } from '@vireo/mqtt';
import type { WireRoute } from './wire.js';

/**
 * The routes of the other nodes: plain filter → nodes, shared group+filter → nodes. Each
 * node's routes come from its own stream (snapshot, then deltas) and leave with it.
 */
export class RouteTable {
  /** filter → node → true */
  readonly plain = new SubscriptionTrie<true>();
  /** filter → group → nodes that have members */
  readonly shared = new SubscriptionTrie<Set<string>>();
  private readonly byNode = new Map<string, Map<string, WireRoute>>();

  /** Replaces every route of `node`. */
  replace(node: string, routes: readonly WireRoute[]): void {
    this.purge(node);
    this.apply(node, routes, []);
  }

  apply(node: string, add: readonly WireRoute[], del: readonly WireRoute[]): void {
    let own = this.byNode.get(node);
    if (!own) this.byNode.set(node, (own = new Map<string, WireRoute>()));
    for (const r of add) {
      const key = routeKey(r);
      if (own.has(key)) continue;
      own.set(key, r);
      if (!r.group) this.plain.set(r.filter, node, true);
      else {
        let nodes = this.shared.get(r.filter, r.group);
        if (!nodes) this.shared.set(r.filter, r.group, (nodes = new Set()));
        nodes.add(node);
      }
    }
    for (const r of del) {
      if (!own.delete(routeKey(r))) continue;
      this.remove(node, r);
    }
  }

  /** Drops every route of `node`; returns how many there were. */
  purge(node: string): number {
    const own = this.byNode.get(node);
    if (!own) return 0;
    this.byNode.delete(node);
    for (const r of own.values()) this.remove(node, r);
    return own.size;
  }

  /** Routes of every node. */
  get size(): number {
    let n = 0;
    for (const own of this.byNode.values()) n += own.size;
    return n;
  }

  count(node: string): number {
    return this.byNode.get(node)?.size ?? 0;
  }

  private remove(node: string, r: WireRoute): void {
    if (!r.group) this.plain.delete(r.filter, node);
    else {
      const nodes = this.shared.get(r.filter, r.group);
      if (!nodes) return;
      nodes.delete(node);
      if (nodes.size === 0) this.shared.delete(r.filter, r.group);
    }
  }
}

/** NUL cannot occur in MQTT topic filters or group names. */
export function routeKey(r: WireRoute): string {
  return `${r.group}\u0000${r.filter}`;
}

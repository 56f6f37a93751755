/** A node's claim on a clientid: its stamp (see client-lock.ts) and the node. */
export interface Claim {
  ts: number;
  node: string;
}

/** The order of claims every node computes alike: the greater stamp, then the greater node name. */
export function newer(a: Claim, b: Claim): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.node > b.node);
}

/**
 * Which node holds a session of each clientid, as the other nodes report it (the local
 * node's own sessions are the broker's). Replicated with the routes: snapshot, then deltas.
 * Each report carries the claim's stamp; the newest claim is the owner.
 */
export class ClientRegistry {
  private readonly byNode = new Map<string, Map<string, number>>();
  private readonly owners = new Map<string, Claim>();

  owner(clientId: string): string | undefined {
    return this.owners.get(clientId)?.node;
  }

  /** The newest claim another node reported for `clientId`. */
  claim(clientId: string): Claim | undefined {
    return this.owners.get(clientId);
  }

  /** How many sessions `node` reports (evacuation spreads sessions by it). */
  count(node: string): number {
    return this.byNode.get(node)?.size ?? 0;
  }

  replace(node: string, clientIds: readonly string[], stamps: readonly number[] = []): void {
    this.purge(node);
    this.apply(node, clientIds, [], stamps);
  }

  /** `stamps[i]` is the stamp of `add[i]`; a missing stamp counts as the oldest claim (1). */
  apply(node: string, add: readonly string[], del: readonly string[], stamps: readonly number[] = []): void {
    let own = this.byNode.get(node);
    if (!own) this.byNode.set(node, (own = new Map<string, number>()));
    for (let i = 0; i < add.length; i++) {
      const id = add[i]!;
      const claim = { ts: stamps[i] || 1, node };
      own.set(id, claim.ts);
      const cur = this.owners.get(id);
      // a node's later claim replaces its earlier one; another node's only when newer
      if (!cur || cur.node === node || newer(claim, cur)) this.owners.set(id, claim);
    }
    for (const id of del) {
      if (!own.delete(id)) continue;
      if (this.owners.get(id)?.node === node) this.recompute(id);
    }
  }

  purge(node: string): void {
    const own = this.byNode.get(node);
    if (!own) return;
    this.byNode.delete(node);
    for (const id of own.keys()) if (this.owners.get(id)?.node === node) this.recompute(id);
  }

  /** The owner went: the newest remaining claim, if any node still reports one. */
  private recompute(clientId: string): void {
    let best: Claim | undefined;
    for (const [node, own] of this.byNode) {
      const ts = own.get(clientId);
      if (ts === undefined) continue;
      const c = { ts, node };
      if (!best || newer(c, best)) best = c;
    }
    if (best) this.owners.set(clientId, best);
    else this.owners.delete(clientId);
  }
}

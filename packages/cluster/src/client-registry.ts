/**
 * Which node holds a session of each clientid, as the other nodes report it (the local
 * node's own sessions are the broker's). Replicated with the routes: snapshot, then deltas.
 */
export class ClientRegistry {
  private readonly byNode = new Map<string, Set<string>>();
  private readonly owners = new Map<string, string>();

  owner(clientId: string): string | undefined {
    return this.owners.get(clientId);
  }

  replace(node: string, clientIds: readonly string[]): void {
    this.purge(node);
    this.apply(node, clientIds, []);
  }

  apply(node: string, add: readonly string[], del: readonly string[]): void {
    let own = this.byNode.get(node);
    if (!own) this.byNode.set(node, (own = new Set()));
    for (const id of add) {
      own.add(id);
      // the latest report wins: a session that moved is announced by its new node
      this.owners.set(id, node);
    }
    for (const id of del) {
      own.delete(id);
      if (this.owners.get(id) === node) this.owners.delete(id);
    }
  }

  purge(node: string): void {
    const own = this.byNode.get(node);
    if (!own) return;
    this.byNode.delete(node);
    for (const id of own) if (this.owners.get(id) === node) this.owners.delete(id);
  }
}

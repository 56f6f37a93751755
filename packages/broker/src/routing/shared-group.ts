import type { SharedStrategy } from '../options.js';
import type { SubOptions } from '../subscription.js';

/** The members of one `$share/{group}/{filter}` on this node. */
export class SharedGroup {
  readonly members = new Map<string, SubOptions>();
  /** Member ids in join order, for round robin and hashing. */
  private order: string[] = [];
  private next = 0;
  private stickyTo: string | undefined;

  constructor(
    readonly group: string,
    readonly filter: string,
  ) {}

  /** `group/filter`: the key a delivery carries so it can be redispatched. */
  get key(): string {
    return `${this.group}/${this.filter}`;
  }

  add(clientId: string, opts: SubOptions): boolean {
    const isNew = !this.members.has(clientId);
    this.members.set(clientId, opts);
    if (isNew) this.order.push(clientId);
    return isNew;
  }

  remove(clientId: string): boolean {
    if (!this.members.delete(clientId)) return false;
    this.order = this.order.filter((id) => id !== clientId);
    if (this.stickyTo === clientId) this.stickyTo = undefined;
    return true;
  }

  get size(): number {
    return this.members.size;
  }

  /**
   * Picks the member for one message. `usable` says whether a member can take it now
   * (connected, not excluded); members that can't are skipped while any usable one exists.
   */
  pick(strategy: SharedStrategy, rr: { value: number }, publisher: string, topic: string, usable: (clientId: string) => boolean): string | undefined {
    const n = this.order.length;
    if (n === 0) return undefined;
    let start: number;
    switch (strategy) {
      case 'random':
        start = Math.floor(Math.random() * n);
        break;
      case 'sticky':
        if (this.stickyTo && usable(this.stickyTo)) return this.stickyTo;
        start = Math.floor(Math.random() * n);
        break;
      case 'hash_clientid':
        start = hash(publisher) % n;
        break;
      case 'hash_topic':
        start = hash(topic) % n;
        break;
      case 'round_robin_per_group':
        // one counter per group, shared by all publishers
        start = this.next++ % n;
        break;
      default: // round_robin (a counter per publisher and group, as EMQX), local (one node: all members are local)
        start = rr.value++ % n;
    }
    for (let i = 0; i < n; i++) {
      const id = this.order[(start + i) % n];
      if (usable(id)) {
        if (strategy === 'sticky') this.stickyTo = id;
        return id;
      }
    }
    return undefined;
  }
}

/** FNV-1a: stable across restarts and nodes, so hash strategies pick the same member everywhere. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

import type { SharedStrategy } from '@vireo/broker';

/**
 * Picks the node that delivers one message of a shared group whose members are spread
 * over several nodes; that node then picks the member. `nodes` is sorted, so hash
 * strategies pick the same node from every publishing node.
 */
export function pickNode(
  strategy: SharedStrategy,
  nodes: readonly string[],
  self: string,
  selfHasMembers: boolean,
  counter: { value: number; stickTo?: string },
  publisher: string,
  topic: string,
): string {
  if (strategy === 'local' && selfHasMembers) return self;
  const n = nodes.length;
  switch (strategy) {
    case 'hash_clientid':
      return nodes[fnv(publisher) % n]!;
    case 'hash_topic':
      return nodes[fnv(topic) % n]!;
    case 'random':
      return nodes[Math.floor(Math.random() * n)]!;
    case 'sticky': {
      // the same node while it has members; a new pick only when it leaves the group
      if (counter.stickTo !== undefined && nodes.includes(counter.stickTo)) return counter.stickTo;
      return (counter.stickTo = nodes[Math.floor(Math.random() * n)]!);
    }
    default:
      return nodes[counter.value++ % n]!;
  }
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The node choice for shared groups with members on several nodes, with a counter per
 * group and filter (round robin, sticky) kept across messages.
 */
export class SharedNodeChoice {
  private readonly counters = new Map<string, { value: number; stickTo?: string }>();

  constructor(
    private readonly self: string,
    private readonly strategy: SharedStrategy,
  ) {}

  /**
   * Which node delivers `group/filter` for one message: `nodes` are the peers with members,
   * `linked` says which of them can be reached now. Undefined when none can (this node's
   * own members, if any, then get it).
   */
  choose(group: string, filter: string, nodes: Iterable<string>, linked: (node: string) => boolean, selfHas: boolean, from: string, topic: string): string | undefined {
    const candidates: string[] = [];
    for (const n of nodes) if (linked(n)) candidates.push(n);
    if (candidates.length === 0) return undefined;
    if (selfHas) candidates.push(this.self);
    candidates.sort();
    const key = `${group}/${filter}`;
    let counter = this.counters.get(key);
    if (!counter) this.counters.set(key, (counter = { value: 0 }));
    return pickNode(this.strategy, candidates, this.self, selfHas, counter, from, topic);
  }
}

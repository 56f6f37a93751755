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

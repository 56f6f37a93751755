/**
 * Which node of the cluster runs a bridge's ingress: rendezvous hashing of the bridge name
 * over the running nodes. Every node computes the same answer from the same membership, no
 * election round is needed, bridges spread over the nodes, and when a node goes only the
 * bridges it ran move.
 */
import { createHash } from 'node:crypto';

function score(bridge: string, node: string): bigint {
  return createHash('sha256').update(`${bridge}\0${node}`).digest().readBigUInt64BE(0);
}

/** The owner among `nodes` (undefined when there is none). */
export function ingressOwner(bridge: string, nodes: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const node of nodes) {
    const s = score(bridge, node);
    if (s > bestScore || (s === bestScore && best !== undefined && node < best)) {
      best = node;
      bestScore = s;
    }
  }
  return best;
}

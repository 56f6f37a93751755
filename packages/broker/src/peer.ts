/** A peer address `ip:port` (IPv6 without brackets, as node reports it) split at its last colon. */
export function splitPeer(peer: string): { ip: string; port: number } {
  const i = peer.lastIndexOf(':');
  return i === -1 ? { ip: peer, port: 0 } : { ip: peer.slice(0, i), port: Number(peer.slice(i + 1)) };
}

/** The IP part of a peer address. */
export function hostOf(peer: string): string {
  return splitPeer(peer).ip;
}

/**
 * Per-peer bookkeeping for the metrics endpoint: messages and bytes forwarded to each peer
 * (added once per flush, not per message), round trips of heartbeat probes and of QoS 1/2
 * forwards to their acknowledgement (once per frame), and which peers were seen running.
 * Read at scrape time through `GrpcCluster.peerStats()`.
 */
import { Histogram, type ClusterPeerStats } from '@vireo/broker';

interface Peer {
  messages: number;
  bytes: number;
  /** QoS 0 forwards dropped while the peer's stream was congested. */
  droppedQos0: number;
  readonly rtt: Histogram;
  readonly ack: Histogram;
}

export class PeerStats {
  private readonly peers = new Map<string, Peer>();

  private peer(node: string): Peer {
    let p = this.peers.get(node);
    if (!p) this.peers.set(node, (p = { messages: 0, bytes: 0, droppedQos0: 0, rtt: new Histogram(), ack: new Histogram() }));
    return p;
  }

  /** A peer became running. */
  seen(node: string): void {
    this.peer(node);
  }

  /** One flush sent `messages` forwarded messages of `bytes` to `node`. */
  forwarded(node: string, messages: number, bytes: number): void {
    const p = this.peer(node);
    p.messages += messages;
    p.bytes += bytes;
  }

  /** `n` QoS 0 forwards to `node` were dropped: its stream was past `cluster.rpc.max_pending_bytes`. */
  droppedQos0(node: string, n: number): void {
    this.peer(node).droppedQos0 += n;
  }

  /** A heartbeat probe to `node` came back after `ms`. */
  rtt(node: string, ms: number): void {
    this.peer(node).rtt.observe(ms < 0 ? 0 : ms / 1000);
  }

  /** A QoS 1/2 forward frame to `node` was acknowledged `ms` after it was sent. */
  forwardAck(node: string, ms: number): void {
    this.peer(node).ack.observe(ms < 0 ? 0 : ms / 1000);
  }

  /** `stoppedNodes`: peers seen running that are not now (GrpcCluster answers from its membership view instead). */
  view(running: ReadonlySet<string>, routes: number, pendingBytes: (node: string) => number = () => 0): ClusterPeerStats {
    const peers = [...this.peers].map(([node, p]) => ({
      node,
      forwardedMessages: p.messages,
      forwardedBytes: p.bytes,
      rtt: p.rtt.view(),
      forwardAck: p.ack.view(),
      pendingBytes: pendingBytes(node),
      droppedQos0: p.droppedQos0,
    }));
    return { peers, stoppedNodes: [...this.peers.keys()].filter((n) => !running.has(n)), routes };
  }
}

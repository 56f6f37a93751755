import type { HistogramView } from './histogram.js';

/** What this node measured on its streams with one peer. */
export interface PeerStatsView {
  /** The peer's node name. */
  node: string;
  /** Messages this node forwarded to the peer (one per message, whatever its subscriber count there). */
  forwardedMessages: number;
  /** Topic and payload bytes of those messages. */
  forwardedBytes: number;
  /** Round trips of heartbeat probes over the stream forwards use (queueing behind them included). */
  rtt: HistogramView;
  /** From sending a forward frame with QoS 1/2 messages to the peer's acknowledgement that it applied it. */
  forwardAck: HistogramView;
  /** Bytes written to the peer's stream that it has not taken yet (gRPC flow control): what a stalled peer costs here. */
  pendingBytes?: number;
  /** QoS 0 forwards not sent because the peer's stream was past `cluster.rpc.max_pending_bytes`. */
  droppedQos0?: number;
}

/** The cluster's side of the metrics (`ClusterLink.peerStats`), read at scrape time. */
export interface ClusterPeerStats {
  /** Every peer seen since start, running or not. */
  peers: PeerStatsView[];
  /** Peers seen running since start that are not running now. */
  stoppedNodes: string[];
  /** Routes in the cluster table: this node's (filter or group/filter) plus every peer's. */
  routes: number;
}

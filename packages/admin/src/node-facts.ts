/** One node's facts for `/nodes`, `/stats` and `/metrics` (EMQX's field names). */
import os from 'node:os';
import { VERSION, type Broker } from '@vireo/broker';

export type NodeInfo = ReturnType<typeof nodeInfo>;
export type NodeStats = ReturnType<typeof stats>;

export function nodeInfo(broker: Broker) {
  const mem = process.memoryUsage();
  return {
    node: broker.options.nodeName,
    node_status: 'running',
    version: VERSION,
    role: 'core',
    uptime: Date.now() - broker.startedAt,
    connections: broker.sessionCount,
    live_connections: broker.connectionCount,
    memory_total: os.totalmem(),
    memory_used: mem.rss,
    process_heap_used: mem.heapUsed,
    load1: os.loadavg()[0],
    sys_path: process.cwd(),
    otp_release: `node ${process.version}`,
  };
}

export function stats(broker: Broker) {
  const r = broker.routeCounts();
  return {
    node: broker.options.nodeName,
    'connections.count': broker.sessionCount,
    'connections.max': broker.stats.connectionsMax,
    'live_connections.count': broker.connectionCount,
    'sessions.count': broker.sessionCount,
    'topics.count': r.topics,
    'subscriptions.count': r.subscriptions,
    'subscriptions.shared.count': r.shared,
    'retained.count': broker.retainer.size,
  };
}

export function metrics(broker: Broker) {
  const s = broker.stats;
  const out: Record<string, number | string> = {
    node: broker.options.nodeName,
    'messages.received': s.msgIn,
    'messages.sent': s.msgOut,
    'messages.dropped': s.msgDropped,
    'packets.received': s.packetsIn,
    'packets.sent': s.packetsOut,
    'client.connected': s.connected,
    'client.disconnected': s.disconnected,
    'session.takenover': s.takeovers,
    'session.discarded': s.discards,
    'client.kicked': s.kicks,
    'authentication.success': s.authSuccess,
    'authentication.failure': s.authFailure,
    'authorization.deny': s.aclDenied,
  };
  for (const [reason, n] of s.droppedBy) out[`messages.dropped.${reason}`] = n;
  return out;
}

/** This node's listeners with their connections and disconnects by reason. */
export function listeners(broker: Broker) {
  return broker.listenerStats().map((l) => ({
    id: l.name,
    type: l.type,
    bind: l.bind,
    running: true,
    current_connections: l.connections,
    max_connections: broker.options.listeners.find((o) => o.name === l.name)?.maxConnections ?? null,
    shutdown_count: l.shutdownCount,
  }));
}

export type ListenerView = ReturnType<typeof listeners>[number];

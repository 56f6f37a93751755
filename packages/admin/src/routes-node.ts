/** Node facts: `/status` (probes), `/nodes`, `/stats`, `/metrics`, `/listeners`. */
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import { VERSION, type Broker } from '@vireo/broker';
import { notFound, errorSchema } from './errors.js';

function nodeInfo(broker: Broker) {
  const mem = process.memoryUsage();
  return {
    node: broker.options.nodeName,
    node_status: 'running',
    version: VERSION,
    role: 'core',
    uptime: Date.now() - broker.startedAt,
    connections: broker.sessions.size,
    live_connections: broker.channels.size,
    memory_total: os.totalmem(),
    memory_used: mem.rss,
    process_heap_used: mem.heapUsed,
    load1: os.loadavg()[0],
    sys_path: process.cwd(),
    otp_release: `node ${process.version}`,
  };
}

function stats(broker: Broker) {
  const r = broker.router;
  return {
    node: broker.options.nodeName,
    'connections.count': broker.sessions.size,
    'connections.max': broker.stats.connectionsMax,
    'live_connections.count': broker.channels.size,
    'sessions.count': broker.sessions.size,
    'topics.count': r.topicCount,
    'subscriptions.count': r.subscriptionCount,
    'subscriptions.shared.count': r.subscriptionCount - r.direct.size,
    'retained.count': broker.retainer.size,
  };
}

function metrics(broker: Broker) {
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

export function nodeRoutes(app: FastifyInstance, broker: Broker, ready: () => boolean): void {
  // liveness and readiness for probes, in EMQX's plain-text shape
  const status = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const up = ready();
    return reply
      .code(up ? 200 : 503)
      .type('text/plain')
      .send(`Node ${broker.options.nodeName} is ${up ? 'started' : 'starting'}\nvireo is ${up ? 'running' : 'not_running'}\n`);
  };
  app.get('/status', { schema: { summary: 'Liveness and readiness: 200 when the node serves MQTT', tags: ['status'] } }, status);
  app.get('/api/v5/status', { schema: { summary: 'Same as /status', tags: ['status'] } }, status);

  app.get('/api/v5/nodes', { schema: { summary: 'Nodes of the cluster', tags: ['nodes'] } }, async () => [nodeInfo(broker)]);
  app.get<{ Params: { node: string } }>(
    '/api/v5/nodes/:node',
    { schema: { summary: 'One node', tags: ['nodes'], params: { type: 'object', properties: { node: { type: 'string' } } }, response: { 404: errorSchema } } },
    async (req, reply) => (req.params.node === broker.options.nodeName ? nodeInfo(broker) : notFound(reply, 'NOT_FOUND', 'node not found')),
  );
  app.get<{ Querystring: { aggregate?: boolean } }>(
    '/api/v5/stats',
    { schema: { summary: 'Counts: connections, sessions, topics, subscriptions, retained', tags: ['metrics'], querystring: { type: 'object', properties: { aggregate: { type: 'boolean' } } } } },
    async (req) => (req.query.aggregate ? stats(broker) : [stats(broker)]),
  );
  app.get<{ Querystring: { aggregate?: boolean } }>(
    '/api/v5/metrics',
    { schema: { summary: 'Message, packet and client counters', tags: ['metrics'], querystring: { type: 'object', properties: { aggregate: { type: 'boolean' } } } } },
    async (req) => (req.query.aggregate ? metrics(broker) : [metrics(broker)]),
  );
  app.get('/api/v5/listeners', { schema: { summary: 'Listeners with their connections and disconnects by reason', tags: ['listeners'] } }, async () =>
    broker.listenerStats().map((l) => ({
      id: l.name,
      type: l.type,
      bind: l.bind,
      running: true,
      current_connections: l.connections,
      max_connections: broker.options.listeners.find((o) => o.name === l.name)?.maxConnections ?? null,
      shutdown_count: l.shutdownCount,
    })),
  );
}

/**
 * EMQX's `load_rebalance` API (docs/evacuation.md):
 * - `GET /api/v5/load_rebalance/availability_check`, unauthenticated, for load balancers'
 *   health checks: 200 `{}` when this node should get new connections, 503 with EMQX's error
 *   body when it should not. Vireo also answers 503 while the node is not ready (not joined
 *   its cluster yet), so one check serves both a load balancer and Kubernetes' readiness probe.
 * - `POST /api/v5/load_rebalance/{node}/evacuation/start|stop` (EMQX's body fields) on any
 *   node, carried to `node` by the admin calls; `GET /api/v5/load_rebalance/global_status`
 *   (every node's evacuation/rebalance) and `GET /api/v5/load_rebalance/status` (this node).
 * - `vireo_evacuation_*` metrics.
 */
import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { scrapedCounter } from './scraped-metrics.js';
import type { EvacuationOptions, LoadRebalance, NodeRebalanceStatus, RebalanceParticipation } from '@vireo/rebalance';
import { EVACUATION_STATES, RebalanceError, WAIT_SCHEMA, waitsInSeconds } from '@vireo/rebalance';
import { nodeError, markPartial, type ClusterQuery } from './cluster-query.js';
import { errorSchema } from './errors.js';

export const AVAILABILITY_PATH = '/api/v5/load_rebalance/availability_check';

export interface Availability {
  /** The node serves MQTT and has joined its cluster (the readiness of /api/v5/status). */
  ready: () => boolean;
  /** The node is evacuating or handing connections to others: no new clients. */
  givingLoadAway?: () => boolean;
  /** Evacuation (and rebalancing) of this node; absent: only availability_check is served. */
  control?: LoadRebalance;
  /** Cluster-wide calls, for the routes that act on or read other nodes. */
  q?: ClusterQuery;
  /** Rebalancing is served (routes-rebalance.ts): global_status lists the rebalances too. */
  rebalances?: boolean;
}

/** EMQX's evacuation body (seconds, per second). */
const evacuationBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    wait_health_check: { type: 'number', minimum: 0, maximum: 86400, description: 'Seconds of 503 on availability_check before clients are refused and evicted (default 60)' },
    conn_evict_rate: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'Connections disconnected per second (default 500)' },
    sess_evict_rate: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'Sessions handed to other nodes per second (default 500)' },
    wait_takeover: { type: 'number', minimum: 0, maximum: 86400, description: 'Seconds to wait for clients to take their sessions over before the rest are pushed (default 60)' },
    redirect_to: { type: 'string', maxLength: 1024, description: 'MQTT 5 Server Reference sent with DISCONNECT/CONNACK 0x9C' },
    migrate_to: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 1000, description: 'Nodes that may receive the sessions (default: every running node)' },
  },
} as const;

/** The evacuation body of the HTTP API: the waits also as duration strings (EMQX's `"10s"`), made seconds before the admin call. */
const evacuationApiBody = {
  ...evacuationBody,
  properties: {
    ...evacuationBody.properties,
    wait_health_check: { ...WAIT_SCHEMA, description: evacuationBody.properties.wait_health_check.description + '; or a duration such as "10s"' },
    wait_takeover: { ...WAIT_SCHEMA, description: evacuationBody.properties.wait_takeover.description + '; or a duration such as "10s"' },
  },
} as const;

/** Admin-call results: errors travel as values so the asking node can answer 400 with them. */
type OpResult = { ok: true; value?: unknown } | { ok: false; code: string; message: string };

/** This node's part, for its own API and its peers' (admin-ops.ts `extra`). */
export function loadRebalanceOps(control: LoadRebalance): Record<string, (a: Record<string, unknown>) => unknown> {
  return {
    'rebalance.status': (): NodeRebalanceStatus => control.status(),
    'rebalance.evacuation_start': (a): OpResult => {
      try {
        return { ok: true, value: control.startEvacuation(a as Partial<EvacuationOptions>) };
      } catch (err) {
        if (err instanceof RebalanceError) return { ok: false, code: err.code, message: err.message };
        throw err;
      }
    },
    'rebalance.evacuation_stop': (): OpResult => (control.stopEvacuation() ? { ok: true } : { ok: false, code: 'BAD_REQUEST', message: 'Evacuation not started on this node' }),
  };
}

export const LOAD_REBALANCE_OP_SCHEMAS: Record<string, Record<string, unknown>> = {
  'rebalance.evacuation_start': evacuationBody,
  'rebalance.evacuation_stop': { type: 'object', additionalProperties: false, properties: {} },
  'rebalance.status': { type: 'object', additionalProperties: false, properties: {} },
};

export function loadRebalanceRoutes(app: FastifyInstance, a: Availability): void {
  app.get(
    AVAILABILITY_PATH,
    {
      schema: {
        summary: 'For load balancers: 200 when this node takes new connections; 503 while it is starting or giving load away (evacuation, rebalancing)',
        tags: ['load_rebalance'],
        security: [],
        response: { 200: { type: 'object', additionalProperties: false }, 503: errorSchema },
      },
    },
    async (_req, reply) => {
      if (a.givingLoadAway?.()) return reply.code(503).send({ code: 'NODE_EVACUATING', message: 'Node Evacuating' });
      if (!a.ready()) return reply.code(503).send({ code: 'SERVICE_UNAVAILABLE', message: 'Node starting: not joined its cluster yet' });
      return {};
    },
  );
  const { control, q } = a;
  if (!control || !q) return;
  const nodeParams = { type: 'object', required: ['node'], properties: { node: { type: 'string' } } } as const;
  const act = (op: string) => async (req: { params: { node: string }; body?: unknown }, reply: import('fastify').FastifyReply) => {
    const node = req.params.node;
    if (!q.nodes().includes(node)) return reply.code(404).send({ code: 'NOT_FOUND', message: `node ${node} is not running` });
    let args: Record<string, unknown>;
    try {
      args = waitsInSeconds((req.body ?? {}) as Record<string, unknown>);
    } catch (err) {
      return reply.code(400).send({ code: 'BAD_REQUEST', message: (err as Error).message });
    }
    let r: OpResult;
    try {
      r = await q.call<OpResult>(node, op, args);
    } catch (err) {
      return reply.code(503).send({ code: 'NODE_DOWN', message: nodeError(node, err).message });
    }
    if (!r.ok) return reply.code(r.code === 'NOT_FOUND' ? 404 : 400).send({ code: r.code, message: r.message });
    return r.value ?? {};
  };
  app.post<{ Params: { node: string }; Body: Partial<EvacuationOptions> }>(
    '/api/v5/load_rebalance/:node/evacuation/start',
    {
      schema: {
        summary: 'Start evacuating a node: it refuses new clients, moves connected clients and every persistent session to the other nodes (EMQX body fields)',
        tags: ['load_rebalance'],
        params: nodeParams,
        body: evacuationApiBody,
        response: { 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    act('rebalance.evacuation_start'),
  );
  app.post<{ Params: { node: string } }>(
    '/api/v5/load_rebalance/:node/evacuation/stop',
    {
      schema: {
        summary: 'Stop evacuating a node: it takes clients again',
        tags: ['load_rebalance'],
        params: nodeParams,
        response: { 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    (req, reply) => act('rebalance.evacuation_stop')({ params: req.params, body: {} }, reply),
  );
  app.get('/api/v5/load_rebalance/status', { schema: { summary: "This node's evacuation or rebalance, or `disabled`", tags: ['load_rebalance'] } }, async () => {
    const own = control.status();
    if (own.status === 'enabled' || !a.rebalances) return own;
    return (await donorStatus(q)) ?? own;
  });
  app.get(
    '/api/v5/load_rebalance/global_status',
    { schema: { summary: 'Evacuations and rebalances running in the cluster, per node (EMQX shape)', tags: ['load_rebalance'] } },
    async (_req, reply) => {
      const g = await q.gather<NodeRebalanceStatus>('rebalance.status', {});
      markPartial(reply, g.errors);
      const evacuations = g.parts.flatMap((p) => (p.value.status === 'enabled' && p.value.process === 'evacuation' ? [withoutProcess(p.value)] : []));
      const rb = a.rebalances ? await q.gather<RebalanceParticipation>('rebalance.rebalance_status', {}) : undefined;
      if (rb) markPartial(reply, [...g.errors, ...rb.errors]);
      const rebalances = rb?.parts.flatMap((p) => (p.value.coordinator ? [{ node: p.node, ...p.value.coordinator }] : [])) ?? [];
      return { evacuations, rebalances };
    },
  );
}

/**
 * EMQX's local status of a rebalance donor (a rebalance coordinated here or elsewhere that
 * this node gives load away for): the coordinator's state, recipients and goals, with this
 * node's own rates and counts. A coordinator that is not a donor itself reports `disabled`
 * here, as in EMQX (its rebalance is in global_status). Undefined when this node is no donor.
 */
async function donorStatus(q: ClusterQuery): Promise<Record<string, unknown> | undefined> {
  const self = q.self;
  let mine: RebalanceParticipation;
  try {
    mine = await q.call<RebalanceParticipation>(self, 'rebalance.rebalance_status', {});
  } catch {
    return undefined;
  }
  const d = mine.donor;
  if (!d) return undefined;
  let coordinator = d.coordinator_node === self ? mine.coordinator : undefined;
  if (!coordinator) {
    try {
      coordinator = (await q.call<RebalanceParticipation>(d.coordinator_node, 'rebalance.rebalance_status', {})).coordinator;
    } catch {
      // the coordinator did not answer: this node's own part is still worth showing
    }
  }
  const { state: _role, ...own } = d;
  return {
    node: self,
    status: 'enabled',
    process: 'rebalance',
    // `donor` until the coordinator tells its state (it did not answer)
    state: coordinator?.state ?? 'donor',
    ...own,
    recipients: coordinator?.recipients ?? [],
    ...(coordinator?.connection_goal !== undefined ? { connection_goal: coordinator.connection_goal } : {}),
    ...(coordinator?.disconnected_session_goal !== undefined ? { disconnected_session_goal: coordinator.disconnected_session_goal } : {}),
  };
}

function withoutProcess(s: NodeRebalanceStatus): Record<string, unknown> {
  const { status: _s, process: _p, ...rest } = s as Record<string, unknown>;
  return rest;
}

/** `vireo_evacuation_*`: the state and progress of this node's evacuation. */
export function registerLoadRebalanceMetrics(register: Registry, control: LoadRebalance): void {
  const current = () => control.evacuationStatus();
  new Gauge({
    name: 'vireo_evacuation_state',
    help: 'Evacuation of this node: 1 for the state it is in (waiting_health_check, evicting_conns, waiting_takeover, evicting_sessions, prohibiting); all 0 when none runs',
    labelNames: ['state'],
    registers: [register],
    collect() {
      const s = current()?.state;
      for (const state of EVACUATION_STATES) this.set({ state }, s === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vireo_evacuation_connections',
    help: 'Clients still connected to this node while it evacuates',
    registers: [register],
    collect() {
      this.set(current()?.stats.current_connected ?? 0);
    },
  });
  new Gauge({
    name: 'vireo_evacuation_sessions',
    help: 'Persistent sessions still on this node while it evacuates',
    registers: [register],
    collect() {
      this.set(current()?.stats.current_sessions ?? 0);
    },
  });
  const counter = (name: string, help: string, read: () => number) => scrapedCounter(register, name, help, read);
  counter('vireo_evacuation_connections_evicted_total', 'Clients disconnected by evacuation (DISCONNECT 0x9C)', () => control.totals.evictedConnections);
  counter('vireo_evacuation_sessions_pushed_total', 'Persistent sessions evacuation handed to other nodes', () => control.totals.pushedSessions);
  counter('vireo_evacuation_sessions_failed_total', 'Session hand-overs that failed (the session stayed on this node)', () => control.totals.failedSessions);
}

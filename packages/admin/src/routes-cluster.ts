/**
 * Cluster membership over HTTP, in EMQX v5's shape: `GET /cluster`, `POST
 * /cluster/{node}/invite`, `DELETE /cluster/{node}/force_leave`; plus `POST /cluster/join`
 * (this node joins the named node's cluster: `vireo ctl cluster join`) and `POST
 * /cluster/leave` (this node leaves), which EMQX only has in its ctl.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Broker } from '@vireo/broker';
import { errorSchema } from './errors.js';

export type MemberStatus = 'running' | 'stopped' | 'down';

export interface ClusterStatusView {
  self: string;
  discovery_strategy: string;
  /** EMQX's `nodes`: the running ones. */
  nodes: string[];
  running_nodes: string[];
  stopped_nodes: string[];
  down_nodes: string[];
  left: boolean;
  members: { node: string; addr: string; status: MemberStatus; since: number }[];
}

/** What the cluster package's `Membership` offers (typed here: admin does not depend on cluster). */
export interface ClusterMembership {
  status(): ClusterStatusView;
  join(target: string, leaveFirst?: boolean): Promise<{ node: string; addr: string }>;
  leave(): Promise<void>;
  forceLeave(node: string): void;
}

const CODES: Record<string, number> = { BAD_REQUEST: 400, ALREADY_IN_CLUSTER: 400, JOIN_FAILED: 400, NOT_FOUND: 404 };

/** A membership error (its `code` names it) as EMQX's error body; anything else goes on to the 500 handler. */
function fail(reply: FastifyReply, err: unknown): FastifyReply {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CODES[code] !== undefined) {
    return reply.code(CODES[code]).send({ code, message: err instanceof Error ? err.message : String(err) });
  }
  throw err;
}

const nodeParam = { type: 'object', properties: { node: { type: 'string', minLength: 1 } }, required: ['node'] } as const;

export function clusterRoutes(app: FastifyInstance, broker: Broker, membership: ClusterMembership | undefined): void {
  const off = (reply: FastifyReply) => reply.code(400).send({ code: 'CLUSTER_OFF', message: 'clustering is off on this node (cluster.rpc.bind has port 0)' });
  const self = broker.options.nodeName;

  app.get('/api/v5/cluster', { schema: { summary: 'Cluster membership: running, stopped and down nodes as this node sees them', tags: ['cluster'] } }, async () => {
    if (membership) return membership.status();
    const alone: ClusterStatusView = {
      self,
      discovery_strategy: 'none',
      nodes: [self],
      running_nodes: [self],
      stopped_nodes: [],
      down_nodes: [],
      left: false,
      members: [{ node: self, addr: '', status: 'running', since: 0 }],
    };
    return alone;
  });

  app.post<{ Body: { node: string } }>(
    '/api/v5/cluster/join',
    {
      schema: {
        summary: 'This node joins the cluster the named node is in (name@host, or host:port of its cluster port); it leaves its own cluster first',
        tags: ['cluster'],
        body: { type: 'object', properties: { node: { type: 'string', minLength: 1 } }, required: ['node'], additionalProperties: false },
        response: { 400: errorSchema },
      },
    },
    async (req, reply) => {
      if (!membership) return off(reply);
      try {
        return await membership.join(req.body.node, true);
      } catch (err) {
        return fail(reply, err);
      }
    },
  );

  app.post<{ Params: { node: string } }>(
    '/api/v5/cluster/:node/invite',
    { schema: { summary: "Invite a node (name@host or host:port) into this node's cluster", tags: ['cluster'], params: nodeParam, response: { 400: errorSchema } } },
    async (req, reply) => {
      if (!membership) return off(reply);
      try {
        return await membership.join(req.params.node, false);
      } catch (err) {
        return fail(reply, err);
      }
    },
  );

  app.post(
    '/api/v5/cluster/leave',
    {
      schema: { summary: 'This node leaves its cluster cleanly and dials no peer until it joins again', tags: ['cluster'], response: { 204: { type: 'null' }, 400: errorSchema } },
    },
    async (_req, reply) => {
      if (!membership) return off(reply);
      await membership.leave();
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { node: string } }>(
    '/api/v5/cluster/:node/force_leave',
    {
      schema: {
        summary: 'Remove another node from the cluster: every node forgets it and stops dialling it; a running one is told to leave',
        tags: ['cluster'],
        params: nodeParam,
        response: { 204: { type: 'null' }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      if (!membership) return off(reply);
      try {
        membership.forceLeave(req.params.node);
      } catch (err) {
        return fail(reply, err);
      }
      return reply.code(204).send();
    },
  );
}

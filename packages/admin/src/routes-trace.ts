/**
 * `/trace`: follow one client, topic filter or address into a file (EMQX's trace API). A
 * trace runs on every node (the client may be on any node, or move), each writing
 * `<data_dir>/trace/<name>.log` on its own host (no other path: broker's trace.ts); list,
 * stop and delete act on every node, and the list merges by name.
 */
import type { FastifyInstance } from 'fastify';
import { topicFilterError } from '@vireo/mqtt';
import type { TraceType } from '@vireo/broker';
import { badRequest, errorSchema, notFound } from './errors.js';
import { markPartial, type ClusterQuery } from './cluster-query.js';
import type { NodeTrace, TraceStartArgs } from './admin-ops.js';
import { traceMaxBytes, traceName } from './op-schemas.js';

interface TraceBody {
  name: string;
  type: TraceType;
  clientid?: string;
  topic?: string;
  ip_address?: string;
  file?: string;
  end_at?: string;
  duration?: number;
  max_bytes: number;
}

const nameParam = { type: 'object', required: ['name'], properties: { name: traceName } } as const;

export function traceRoutes(app: FastifyInstance, q: ClusterQuery): void {
  app.post<{ Body: TraceBody }>(
    '/api/v5/trace',
    {
      schema: {
        summary: 'Start a trace: every event of a client id, topic filter or IP address, as JSON lines in a file on the node',
        tags: ['trace'],
        body: {
          type: 'object',
          required: ['name', 'type'],
          additionalProperties: false,
          properties: {
            name: { ...traceName, description: 'also the file name: <data_dir>/trace/<name>.log on each node' },
            type: { type: 'string', enum: ['clientid', 'topic', 'ip_address'] },
            clientid: { type: 'string', minLength: 1 },
            topic: { type: 'string', minLength: 1 },
            ip_address: { type: 'string', minLength: 1 },
            file: { type: 'string', description: 'not accepted: traces are written to <data_dir>/trace/<name>.log (kept for a clear 400)' },
            end_at: { type: 'string', format: 'date-time' },
            duration: { type: 'integer', minimum: 1, maximum: 7 * 86400, description: 'seconds; default 10 minutes' },
            max_bytes: { ...traceMaxBytes, description: 'bytes of file per node; the trace stops there' },
          },
        },
        response: { 400: errorSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const filter = b[b.type];
      if (filter === undefined) return badRequest(reply, 'INVALID_PARAMETER', `${b.type} is required for a ${b.type} trace`);
      if (b.type === 'topic' && topicFilterError(filter)) return badRequest(reply, 'INVALID_PARAMETER', `topic: ${topicFilterError(filter)}`);
      if (b.file !== undefined) return badRequest(reply, 'INVALID_PARAMETER', `file: traces are written to <data_dir>/trace/${b.name}.log on each node; no other path is accepted`);
      const endAt = b.end_at ? Date.parse(b.end_at) : Date.now() + (b.duration ?? 600) * 1000;
      if (endAt <= Date.now()) return badRequest(reply, 'INVALID_PARAMETER', 'end_at is in the past');
      const args: TraceStartArgs = { name: b.name, type: b.type, filter, endAt, maxBytes: b.max_bytes };
      const g = await q.gather<{ trace?: NodeTrace; conflict?: string; refused?: string; limit?: string }>('trace.start', args);
      markPartial(reply, g.errors);
      const started = g.parts.flatMap((p) => (p.value.trace ? [p.value.trace] : []));
      const conflict = g.parts.find((p) => p.value.conflict !== undefined);
      if (started.length === 0) {
        const refused = g.parts.find((p) => p.value.refused !== undefined);
        if (refused) return badRequest(reply, 'INVALID_PARAMETER', refused.value.refused!);
        const limit = g.parts.find((p) => p.value.limit !== undefined);
        if (limit) return reply.code(409).send({ code: 'EXCEED_LIMIT', message: limit.value.limit });
        if (conflict) return reply.code(409).send({ code: 'ALREADY_EXISTS', message: conflict.value.conflict });
        return reply.code(503).send({ code: 'NODE_DOWN', message: g.errors.map((e) => e.message).join('; ') });
      }
      return view(started);
    },
  );

  app.get('/api/v5/trace', { schema: { summary: 'Traces of every node, merged by name (`log_size` per node)', tags: ['trace'] } }, async (_req, reply) => {
    const g = await q.gather<NodeTrace[]>('trace.list', null);
    markPartial(reply, g.errors);
    const byName = new Map<string, NodeTrace[]>();
    for (const p of g.parts) for (const t of p.value) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
    return [...byName.values()].map(view);
  });

  app.put<{ Params: { name: string } }>(
    '/api/v5/trace/:name/stop',
    { schema: { summary: 'Stop a trace on every node (its files stay)', tags: ['trace'], params: nameParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      const g = await q.gather<NodeTrace | null>('trace.stop', { name: req.params.name });
      markPartial(reply, g.errors);
      const stopped = g.parts.flatMap((p) => (p.value ? [p.value] : []));
      return stopped.length > 0 ? view(stopped) : notFound(reply, 'NOT_FOUND', 'no such trace');
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/api/v5/trace/:name',
    { schema: { summary: 'Stop and forget a trace on every node (its files stay)', tags: ['trace'], params: nameParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      const g = await q.gather<boolean>('trace.delete', { name: req.params.name });
      markPartial(reply, g.errors);
      return g.parts.some((p) => p.value) ? reply.code(204).send() : notFound(reply, 'NOT_FOUND', 'no such trace');
    },
  );
}

/** One trace as EMQX shows it, from each node's copy: `log_size` per node, running while any node runs it. */
function view(copies: NodeTrace[]) {
  const t = copies[0]!;
  const logSize: Record<string, number> = {};
  for (const c of copies) logSize[c.node] = c.bytes;
  const running = copies.some((c) => c.status === 'running');
  return {
    name: t.name,
    type: t.type,
    [t.type]: t.filter,
    file: t.file,
    start_at: new Date(Math.min(...copies.map((c) => c.startedAt))).toISOString(),
    end_at: new Date(t.endAt).toISOString(),
    max_bytes: t.maxBytes,
    log_size: logSize,
    status: running ? 'running' : 'stopped',
    stop_reason: running ? null : (copies.find((c) => c.stopReason)?.stopReason ?? null),
  };
}

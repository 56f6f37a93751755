/** `/trace`: follow one client, topic filter or address into a file (EMQX's trace API). */
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { topicFilterError } from '@vireo/mqtt';
import type { Broker, TraceType } from '@vireo/broker';
import { badRequest, errorSchema, notFound } from './errors.js';

interface TraceBody {
  name: string;
  type: TraceType;
  clientid?: string;
  topic?: string;
  ip_address?: string;
  file: string;
  end_at?: string;
  duration?: number;
  max_bytes: number;
}

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } as const;

export function traceRoutes(app: FastifyInstance, broker: Broker): void {
  app.post<{ Body: TraceBody }>(
    '/api/v5/trace',
    {
      schema: {
        summary: 'Start a trace: every event of a client id, topic filter or IP address, as JSON lines in a file on the node',
        tags: ['trace'],
        body: {
          type: 'object',
          required: ['name', 'type', 'file'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
            type: { type: 'string', enum: ['clientid', 'topic', 'ip_address'] },
            clientid: { type: 'string', minLength: 1 },
            topic: { type: 'string', minLength: 1 },
            ip_address: { type: 'string', minLength: 1 },
            file: { type: 'string', minLength: 1 },
            end_at: { type: 'string', format: 'date-time' },
            duration: { type: 'integer', minimum: 1, maximum: 7 * 86400, description: 'seconds; default 10 minutes' },
            max_bytes: { type: 'integer', minimum: 1024, maximum: 1024 ** 3, default: 64 * 1024 * 1024 },
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
      if (!path.isAbsolute(b.file)) return badRequest(reply, 'INVALID_PARAMETER', 'file: an absolute path on the node');
      const endAt = b.end_at ? Date.parse(b.end_at) : Date.now() + (b.duration ?? 600) * 1000;
      if (endAt <= Date.now()) return badRequest(reply, 'INVALID_PARAMETER', 'end_at is in the past');
      try {
        const t = broker.startTrace({ name: b.name, type: b.type, filter, file: b.file, endAt, maxBytes: b.max_bytes });
        return view(t.info());
      } catch (err) {
        return reply.code(409).send({ code: 'ALREADY_EXISTS', message: (err as Error).message });
      }
    },
  );

  app.get('/api/v5/trace', { schema: { summary: 'Traces on this node', tags: ['trace'] } }, async () => broker.tracer.list().map(view));

  app.put<{ Params: { name: string } }>(
    '/api/v5/trace/:name/stop',
    { schema: { summary: 'Stop a trace (its file stays)', tags: ['trace'], params: nameParam, response: { 404: errorSchema } } },
    async (req, reply) => (broker.stopTrace(req.params.name) ? view(broker.tracer.list().find((t) => t.name === req.params.name)!) : notFound(reply, 'NOT_FOUND', 'no such trace')),
  );

  app.delete<{ Params: { name: string } }>(
    '/api/v5/trace/:name',
    { schema: { summary: 'Stop and forget a trace (its file stays)', tags: ['trace'], params: nameParam, response: { 404: errorSchema } } },
    async (req, reply) => {
      broker.stopTrace(req.params.name);
      return broker.tracer.delete(req.params.name) ? reply.code(204).send() : notFound(reply, 'NOT_FOUND', 'no such trace');
    },
  );
}

function view(t: import('@vireo/broker').TraceInfo) {
  return {
    name: t.name,
    type: t.type,
    [t.type]: t.filter,
    file: t.file,
    start_at: new Date(t.startedAt).toISOString(),
    end_at: new Date(t.endAt).toISOString(),
    max_bytes: t.maxBytes,
    log_size: t.bytes,
    status: t.status,
    stop_reason: t.stopReason ?? null,
  };
}

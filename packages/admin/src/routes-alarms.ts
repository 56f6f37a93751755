/**
 * `/api/v5/alarms` (EMQX v5): every node's alarms, active (`activated=true`), deactivated
 * (`activated=false`) or both, paged in node order; `DELETE` forgets the deactivated ones on
 * every node.
 */
import type { FastifyInstance } from 'fastify';
import type { Alarms, AlarmView } from './alarms.js';
import { answerPage, markPartial, slice, type ClusterQuery, type SliceArgs } from './cluster-query.js';
import { pageQuerySchema, type PageQuery } from './paging.js';

interface AlarmFilters {
  activated?: boolean;
}

/** This node's part of the cluster-wide list and clear (admin calls). */
export function alarmOps(alarms: Alarms | undefined): Record<string, (a: Record<string, unknown>) => unknown> {
  return {
    'alarms.page': (a) => {
      const s = a as unknown as SliceArgs<AlarmFilters>;
      const activated = s.filters?.activated;
      if (activated !== undefined && typeof activated !== 'boolean') throw new Error('filters.activated: a boolean is required');
      return slice(alarms?.views(activated) ?? [], s, () => true);
    },
    'alarms.clear': () => alarms?.clearDeactivated() ?? 0,
  };
}

const alarmSchema = {
  type: 'object',
  properties: {
    node: { type: 'string' },
    name: { type: 'string' },
    message: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
    duration: { type: 'integer', description: 'ms active (so far, while active)' },
    activate_at: { type: 'string' },
    deactivate_at: { type: 'string', description: 'RFC 3339, or infinity while active' },
    activated: { type: 'boolean' },
  },
} as const;

export function alarmRoutes(app: FastifyInstance, q: ClusterQuery): void {
  app.get<{ Querystring: PageQuery & { activated?: boolean; node?: string } }>(
    '/api/v5/alarms',
    {
      schema: {
        summary: 'Alarms of every node (or of `node`): active ones with activated=true, deactivated ones with activated=false, else both',
        tags: ['alarms'],
        querystring: { type: 'object', properties: { ...pageQuerySchema, activated: { type: 'boolean' }, node: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { data: { type: 'array', items: alarmSchema }, meta: { type: 'object', additionalProperties: true } } } },
      },
    },
    async (req, reply) => answerPage<AlarmView, AlarmFilters>(q, reply, 'alarms.page', { activated: req.query.activated }, req.query),
  );
  app.delete(
    '/api/v5/alarms',
    { schema: { summary: 'Forget the deactivated alarms on every node', tags: ['alarms'], response: { 204: { type: 'null' } } } },
    async (_req, reply) => {
      const r = await q.gather<number>('alarms.clear', {});
      markPartial(reply, r.errors);
      return reply.code(204).send();
    },
  );
}

/** The running node's log level (`vireo ctl log set-level`), without a restart. */
import type { FastifyInstance } from 'fastify';
import { errorSchema } from './errors.js';

export interface LogLevelControl {
  /** Accepted names (EMQX's: debug … emergency). */
  readonly levels: readonly string[];
  get(): string;
  set(level: string): void;
}

export function logRoutes(app: FastifyInstance, log: LogLevelControl): void {
  app.get('/api/v5/log/level', { schema: { summary: 'The log level in force', tags: ['log'] } }, async () => ({ level: log.get() }));
  app.put<{ Body: { level: string } }>(
    '/api/v5/log/level',
    {
      schema: {
        summary: 'Change the log level of the running node (until it restarts; log.level sets it at start)',
        tags: ['log'],
        body: { type: 'object', required: ['level'], additionalProperties: false, properties: { level: { type: 'string', enum: [...log.levels] } } },
        response: { 400: errorSchema },
      },
    },
    async (req) => {
      log.set(req.body.level);
      return { level: log.get() };
    },
  );
}

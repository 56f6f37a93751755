/** Authorization settings and the file source: what is configured, and re-reading the rule file. */
import type { FastifyInstance } from 'fastify';
import { AclError, type AccessControl } from '@vireo/access';
import { badRequest, errorSchema } from './errors.js';

export function authzRoutes(app: FastifyInstance, access: AccessControl): void {
  app.get('/api/v5/authorization/settings', { schema: { summary: 'no_match, deny_action and the sources in use', tags: ['authorization'] } }, async () => access.settings);

  app.post(
    '/api/v5/authorization/sources/file/reload',
    { schema: { summary: 'Re-read the ACL file (vireo ctl acl reload); a bad file keeps the rules in force', tags: ['authorization'], response: { 400: errorSchema } } },
    async (_req, reply) => {
      try {
        return { rules: access.reloadAcl() };
      } catch (err) {
        if (err instanceof AclError || err instanceof Error) return badRequest(reply, 'BAD_REQUEST', err.message);
        throw err;
      }
    },
  );
}

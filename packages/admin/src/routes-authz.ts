/**
 * EMQX 5's authorization API: the sources in order (`GET /authorization/sources`), the file
 * source's rules as text (`GET/PUT /authorization/sources/file`: a PUT is checked on this
 * node first, then written and used on every running node), the settings, clearing the
 * decision cache on every node, and re-reading the file (`…/file/reload`, `vireo ctl acl
 * reload`). Reads are for viewers, changes for administrators (roles.ts).
 */
import type { FastifyInstance } from 'fastify';
import { AclError, type AccessControl } from '@vireo/access';
import type { Broker } from '@vireo/broker';
import { badRequest, errorSchema, notFound } from './errors.js';
import { markPartial, type ClusterQuery } from './cluster-query.js';

/** What one node did with new rules. */
type PutResult = { rules: number } | { refused: string } | { failed: string };

/** This node's part: new rules for its file source, and clearing its cache. */
export function authzOps(access: AccessControl): Record<string, (a: Record<string, unknown>) => unknown> {
  return {
    'authz.file.put': (a): PutResult => {
      try {
        return { rules: access.writeAclFile(String(a.rules)) };
      } catch (err) {
        return err instanceof AclError ? { refused: err.message } : { failed: (err as Error).message };
      }
    },
    'authz.cache.clear': () => {
      access.clearAuthzCache();
      return true;
    },
  };
}

/** The longest rule text a PUT takes (the cluster carries it to every node). */
export const MAX_RULES_TEXT = 1_000_000;

const fileSchema = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['file'] },
    enable: { type: 'boolean' },
    path: { type: 'string', description: 'the file on this node (each node writes its own authorization.sources[…].path)' },
    rules: { type: 'string', description: 'the rules as the file has them: a YAML (or JSON) list, docs/security.md' },
  },
} as const;

export function authzRoutes(app: FastifyInstance, access: AccessControl, q: ClusterQuery, broker: Broker): void {
  app.get(
    '/api/v5/authorization/settings',
    { schema: { summary: 'no_match, deny_action, the cache and the sources in use', tags: ['authorization'] } },
    async () => access.settings,
  );

  app.get(
    '/api/v5/authorization/sources',
    { schema: { summary: 'The authorization sources in order (file, http), enabled or not; credential headers masked', tags: ['authorization'] } },
    async () => ({ sources: access.sourceViews() }),
  );

  app.get(
    '/api/v5/authorization/sources/file',
    { schema: { summary: "The file source's rules, as text", tags: ['authorization'], response: { 200: fileSchema, 404: errorSchema } } },
    async (_req, reply) => {
      const f = access.aclFileText();
      if (!f) return notFound(reply, 'NOT_FOUND', 'no file source in authorization.sources');
      return { type: 'file', enable: true, path: f.path, rules: f.rules };
    },
  );

  app.put<{ Body: { type?: 'file'; enable?: boolean; rules: string } }>(
    '/api/v5/authorization/sources/file',
    {
      schema: {
        summary: 'New rules for the file source: checked, then written over the file and used on every running node',
        tags: ['authorization'],
        body: {
          type: 'object',
          required: ['rules'],
          additionalProperties: false,
          properties: { type: { type: 'string', enum: ['file'] }, enable: { type: 'boolean', enum: [true] }, rules: { type: 'string', maxLength: MAX_RULES_TEXT } },
        },
        response: { 400: errorSchema, 404: errorSchema, 500: errorSchema },
      },
    },
    async (req, reply) => {
      if (!access.aclFileText()) return notFound(reply, 'NOT_FOUND', 'no file source in authorization.sources');
      const args = { rules: req.body.rules };
      // this node first: a bad rule is refused before any node's file changes
      const mine = await q.call<PutResult>(q.self, 'authz.file.put', args);
      if ('refused' in mine) return badRequest(reply, 'BAD_REQUEST', mine.refused);
      if ('failed' in mine) return reply.code(500).send({ code: 'INTERNAL_ERROR', message: `${q.self}: ${mine.failed}` });
      const g = await q.gather<PutResult>(
        'authz.file.put',
        args,
        q.nodes().filter((n) => n !== q.self),
      );
      markPartial(reply, g.errors);
      const bad = g.parts.filter((p) => !('rules' in p.value)).map((p) => `${p.node}: ${'refused' in p.value ? p.value.refused : (p.value as { failed: string }).failed}`);
      broker.logger.info({ rules: mine.rules, nodes: g.parts.length + 1, failed: bad, unreachable: g.errors.map((e) => e.node) }, 'Authorization rules replaced through the API');
      if (bad.length > 0) return reply.code(500).send({ code: 'INTERNAL_ERROR', message: `the rules are in force on ${q.self} but not on ${bad.join('; ')}` });
      return reply.code(204).send();
    },
  );

  app.delete(
    '/api/v5/authorization/cache',
    { schema: { summary: "Forget every client's cached authorization decisions, on every node", tags: ['authorization'] } },
    async (_req, reply) => {
      const g = await q.gather('authz.cache.clear', {});
      markPartial(reply, g.errors);
      return reply.code(204).send();
    },
  );

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

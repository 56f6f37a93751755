/**
 * Dashboard sign-in and users, at EMQX's paths: `POST /login` (a token, then sent as
 * `Authorization: Bearer`), `POST /logout`, `/users[/{username}[/change_pwd]]`. Changes are
 * copied to every node (record-sync.ts). The last administrator cannot be deleted or made
 * a viewer, so the dashboard cannot be locked out of itself. Failed sign-ins are limited per
 * name (EMQX's lock) and per address (10 a minute, then 429, as for API keys).
 */
import type { FastifyInstance } from 'fastify';
import { VERSION, type Broker } from '@vireo/broker';
import { errorSchema, notFound } from './errors.js';
import type { ClusterQuery } from './cluster-query.js';
import { copyEntry } from './record-sync.js';
import { dashboardTokensTable, dashboardUsersTable } from './dashboard-tables.js';
import { DashboardUserError, type DashboardUsers } from './dashboard-users.js';
import { DASHBOARD_ROLES, type Role } from './roles.js';
import { AuthThrottle } from './auth-throttle.js';

const username = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$' } as const;
const password = { type: 'string', minLength: 1, maxLength: 1024 } as const;
const role = { type: 'string', enum: DASHBOARD_ROLES } as const;
const description = { type: 'string', maxLength: 1024 } as const;
const nameParam = { type: 'object', required: ['username'], properties: { username: { type: 'string', minLength: 1 } } } as const;

export function dashboardUserRoutes(app: FastifyInstance, users: DashboardUsers, q: ClusterQuery, broker: Broker): void {
  const usersTable = dashboardUsersTable(users);
  const tokensTable = dashboardTokensTable(users);
  const copyUser = (name: string) => copyEntry(broker, q, usersTable, name);
  const copyToken = (id: string) => copyEntry(broker, q, tokensTable, id);
  const admins = () => users.list().filter((u) => u.role === 'administrator').length;
  const log = broker.logger;
  // per address, across user names (the per-name lock is in DashboardUsers): each wrong guess costs a PBKDF2
  const throttle = new AuthThrottle();

  app.post<{ Body: { username: string; password: string } }>(
    '/api/v5/login',
    {
      schema: {
        summary: 'Sign in as a dashboard user: a token to send as `Authorization: Bearer <token>` (expires after dashboard.token_expired_time)',
        tags: ['dashboard'],
        security: [],
        body: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string', maxLength: 1024 }, password } },
        response: { 401: errorSchema },
      },
    },
    async (req, reply) => {
      const wait = throttle.retryAfter(req.ip);
      if (wait > 0)
        return reply
          .code(429)
          .header('retry-after', String(wait))
          .send({ code: 'TOO_MANY_REQUESTS', message: `too many failed sign-ins from this address; retry in ${wait} s` });
      const r = await users.login(req.body.username, req.body.password);
      if (r === 'locked' || r === 'bad') {
        if (throttle.failed(req.ip)) log.warn({ peerhost: req.ip, failures: throttle.limit }, 'Dashboard sign-in failures throttled: this address gets 429 until its window ends');
        log.warn({ username: req.body.username, reason: r === 'locked' ? 'login_locked' : 'bad_username_or_password', peer: req.ip }, 'Dashboard sign-in refused');
        return reply
          .code(401)
          .send(
            r === 'locked' ? { code: 'LOGIN_LOCKED', message: 'Login locked: too many failed attempts, try again later' } : { code: 'BAD_USERNAME_OR_PWD', message: 'Auth failed' },
          );
      }
      await copyToken(r.id);
      log.info({ username: req.body.username, role: r.role, peer: req.ip }, 'Dashboard sign-in');
      return { token: r.token, role: r.role, version: VERSION, license: { edition: 'opensource' }, expire_at: new Date(r.exptime).toISOString() };
    },
  );

  app.post<{ Body: { username: string } }>(
    '/api/v5/logout',
    {
      schema: {
        summary: 'Sign out: the Bearer token of the request stops working on every node',
        tags: ['dashboard'],
        body: { type: 'object', required: ['username'], properties: { username: { type: 'string' } } },
        response: { 401: errorSchema },
      },
    },
    async (req, reply) => {
      const h = req.headers.authorization ?? '';
      const id = h.startsWith('Bearer ') ? users.logout(req.body.username, h.slice(7).trim()) : undefined;
      if (!id) return reply.code(401).send({ code: 'WRONG_TOKEN_OR_USERNAME', message: 'Ensure your token & username' });
      await copyToken(id);
      log.info({ username: req.body.username }, 'Dashboard sign-out');
      return reply.code(204).send();
    },
  );

  app.get('/api/v5/users', { schema: { summary: 'Dashboard users (not MQTT users: those are under /authentication)', tags: ['dashboard'] } }, async () => users.list());

  app.post<{ Body: { username: string; password: string; role?: Role; description?: string } }>(
    '/api/v5/users',
    {
      schema: {
        summary: 'Add a dashboard user (password: 8 to 64 characters of at least two kinds)',
        tags: ['dashboard'],
        body: { type: 'object', required: ['username', 'password'], additionalProperties: false, properties: { username, password, role, description } },
        response: { 400: errorSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      try {
        const u = await users.add(b.username, b.password, b.role ?? 'administrator', b.description ?? '');
        await copyUser(u.username);
        log.info({ username: u.username, role: u.role }, 'Dashboard user added');
        return u;
      } catch (err) {
        if (err instanceof DashboardUserError) return reply.code(400).send({ code: err.code === 'ALREADY_EXISTS' ? 'BAD_REQUEST' : err.code, message: err.message });
        throw err;
      }
    },
  );

  app.put<{ Params: { username: string }; Body: { role?: Role; description?: string } }>(
    '/api/v5/users/:username',
    {
      schema: {
        summary: "Change a dashboard user's role or description",
        tags: ['dashboard'],
        params: nameParam,
        body: { type: 'object', additionalProperties: false, properties: { role, description } },
        response: { 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const name = req.params.username;
      const cur = users.user(name);
      if (!cur) return notFound(reply, 'USER_NOT_FOUND', 'User not found');
      if (cur.role === 'administrator' && req.body.role === 'viewer' && admins() === 1) {
        return reply.code(400).send({ code: 'NOT_ALLOWED', message: 'The last administrator cannot become a viewer' });
      }
      const u = users.update(name, req.body)!;
      await copyUser(name);
      return u;
    },
  );

  app.delete<{ Params: { username: string } }>(
    '/api/v5/users/:username',
    { schema: { summary: 'Delete a dashboard user (its tokens stop working)', tags: ['dashboard'], params: nameParam, response: { 400: errorSchema, 404: errorSchema } } },
    async (req, reply) => {
      const name = req.params.username;
      const cur = users.user(name);
      if (!cur) return notFound(reply, 'USER_NOT_FOUND', 'User not found');
      if (cur.role === 'administrator' && admins() === 1) return reply.code(400).send({ code: 'NOT_ALLOWED', message: 'The last administrator cannot be deleted' });
      users.delete(name);
      await copyUser(name);
      log.info({ username: name }, 'Dashboard user deleted');
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { username: string }; Body: { old_pwd: string; new_pwd: string } }>(
    '/api/v5/users/:username/change_pwd',
    {
      schema: {
        summary: "Change a dashboard user's password (the old one is required)",
        tags: ['dashboard'],
        params: nameParam,
        body: { type: 'object', required: ['old_pwd', 'new_pwd'], additionalProperties: false, properties: { old_pwd: password, new_pwd: password } },
        response: { 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const name = req.params.username;
      try {
        const r = await users.changePassword(name, req.body.old_pwd, req.body.new_pwd);
        if (r === 'not_found') return notFound(reply, 'USER_NOT_FOUND', 'User not found');
        if (r === 'bad_password') return reply.code(400).send({ code: 'BAD_REQUEST', message: 'The old password is wrong' });
      } catch (err) {
        if (err instanceof DashboardUserError) return reply.code(400).send({ code: 'BAD_REQUEST', message: err.message });
        throw err;
      }
      await copyUser(name);
      log.info({ username: name }, 'Dashboard user password changed');
      return reply.code(204).send();
    },
  );
}

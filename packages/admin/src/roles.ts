/**
 * Who may send which HTTP API request: EMQX 5's roles, decided in one place for API keys
 * and dashboard users alike.
 *
 * - `administrator`: everything.
 * - `viewer`: reads only (GET/HEAD); besides, a dashboard viewer may log out and change its
 *   own password.
 * - `publisher` (API keys only): `POST /api/v5/publish` and `POST /api/v5/publish/bulk`,
 *   nothing else — not even reads (EMQX's `publisher` is meant for an application that
 *   only injects messages).
 */

export const ROLES = ['administrator', 'viewer', 'publisher'] as const;
export type Role = (typeof ROLES)[number];

/** Roles an API key may have. */
export const API_KEY_ROLES: readonly Role[] = ROLES;
/** Roles a dashboard user may have (EMQX has no dashboard publisher). */
export const DASHBOARD_ROLES: readonly Role[] = ['administrator', 'viewer'];

/** What the role check needs to know about a request. */
export interface RoleRequest {
  /** HTTP method, any case. */
  method: string;
  /**
   * The matched route's pattern as registered (`/api/v5/users/:username/change_pwd`), not
   * the raw URL: a query string or an encoded slash must not change the answer.
   */
  route: string;
  /** Route parameters (`username` for a dashboard user's own password). */
  params?: Readonly<Record<string, string | undefined>>;
  /** Who asks: the dashboard user name or the API key. */
  actor?: string;
}

const PUBLISH_ROUTES = new Set(['/api/v5/publish', '/api/v5/publish/bulk']);
/** Requests a dashboard viewer may make about itself only (`:username` = the actor). */
const OWN_ACCOUNT_ROUTES = new Set(['/api/v5/users/:username/change_pwd']);

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** Whether `role` may make `req`. Unknown roles may do nothing. */
export function allowed(role: Role, req: RoleRequest): boolean {
  const method = req.method.toUpperCase();
  switch (role) {
    case 'administrator':
      return true;
    case 'viewer':
      if (method === 'GET' || method === 'HEAD') return true;
      if (method === 'POST' && req.route === '/api/v5/logout') return true;
      return method === 'POST' && OWN_ACCOUNT_ROUTES.has(req.route) && req.actor !== undefined && req.params?.username === req.actor;
    case 'publisher':
      return method === 'POST' && PUBLISH_ROUTES.has(req.route);
    default:
      return false;
  }
}

/** The 403 body EMQX answers when the role forbids a request. */
export function forbidden(role: Role): { code: 'FORBIDDEN'; message: string } {
  return { code: 'FORBIDDEN', message: `the ${role} role may not make this request` };
}

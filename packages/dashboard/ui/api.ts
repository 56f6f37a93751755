/**
 * The page's only way to the node: the public HTTP API on the same origin, signed in with
 * the token from `POST /api/v5/login` (kept in sessionStorage: closing the tab signs out).
 * A 401 signs the page out; a node that did not answer is reported by the API in
 * `x-vireo-partial` and shown by the page, not hidden.
 */

export interface Session {
  username: string;
  role: 'administrator' | 'viewer';
  token: string;
  version: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const KEY = 'vireo.session';
let session: Session | undefined = load();
const listeners = new Set<() => void>();

function load(): Session | undefined {
  try {
    const s = sessionStorage.getItem(KEY);
    return s ? (JSON.parse(s) as Session) : undefined;
  } catch {
    return undefined;
  }
}

export const currentSession = (): Session | undefined => session;

export function onSession(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setSession(s: Session | undefined): void {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  for (const fn of listeners) fn();
}

export interface Answer<T> {
  data: T;
  /** nodes that did not answer (`x-vireo-partial`), e.g. `vireo2@host=timeout` */
  partial: string[];
}

/** A call to `/api/v5…`; throws ApiError with the API's code and message. */
export async function request<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (session) headers.authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The node does not answer');
  }
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  if (res.status === 401 && session && path !== '/api/v5/login') setSession(undefined);
  if (!res.ok) {
    const e = (json ?? {}) as { code?: string; message?: string };
    throw new ApiError(res.status, e.code ?? String(res.status), e.message ?? res.statusText);
  }
  const partial = (res.headers.get('x-vireo-partial') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { data: json as T, partial };
}

export const get = async <T>(path: string): Promise<T> => (await request<T>('GET', path)).data;
export const post = async <T>(path: string, body?: unknown): Promise<T> => (await request<T>('POST', path, body ?? {})).data;
export const put = async <T>(path: string, body?: unknown): Promise<T> => (await request<T>('PUT', path, body ?? {})).data;
export const del = async (path: string): Promise<void> => void (await request('DELETE', path));

export async function signIn(username: string, password: string): Promise<void> {
  const r = await request<{ token: string; role: Session['role']; version: string }>('POST', '/api/v5/login', { username, password });
  setSession({ username, role: r.data.role, token: r.data.token, version: r.data.version });
}

export async function signOut(): Promise<void> {
  const s = session;
  if (!s) return;
  try {
    await request('POST', '/api/v5/logout', { username: s.username });
  } catch {
    // already expired: signed out either way
  }
  setSession(undefined);
}

/** `/api/v5/x/${enc(id)}`: ids (client ids, topics, node names) may hold `/`, `#`, `+`, `@`. */
export const enc = encodeURIComponent;

/** Query string from the defined values. */
export function qs(params: Record<string, string | number | boolean | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/**
 * What the node serves, from its public API description: pages for features a node does not
 * have yet (rules, alarms…) appear once it does.
 */
export async function features(): Promise<Set<string>> {
  try {
    const res = await fetch('/api-docs');
    const doc = (await res.json()) as { paths?: Record<string, unknown> };
    return new Set(Object.keys(doc.paths ?? {}));
  } catch {
    return new Set();
  }
}

/** The Authorization header of the signed-in page, for requests `request` cannot make (downloads). */
export const authHeader = (): Record<string, string> => (session ? { authorization: `Bearer ${session.token}` } : {});

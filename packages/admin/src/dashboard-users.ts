/**
 * Dashboard users (EMQX's `emqx_admin`, separate from MQTT users) and their sign-in tokens.
 * Users keep a salted PBKDF2 hash, never the password; tokens are random, handed out once
 * by `login` and kept only as their SHA-256 digest, with an expiry
 * (`dashboard.token_expired_time`). Both tables are copied to every node (record-sync.ts),
 * so a token from one node opens every node's API, and kept in the node's store, so they
 * survive a restart. A user's role is read at every request: a change or a deletion holds
 * at once for the tokens already handed out.
 */
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { RecordTable } from '@vireo/broker';
import type { Role } from './roles.js';

const pbkdf2Async = promisify(pbkdf2);
const ITERATIONS = 100_000;
/** Compared against when the user does not exist, so a wrong name takes as long as a wrong password. */
const DUMMY = { salt: '00'.repeat(16), hash: '00'.repeat(32), iterations: ITERATIONS };

export interface DashboardUserRecord {
  username: string;
  description: string;
  role: Role;
  /** hex */
  salt: string;
  /** hex PBKDF2-SHA256 of the password */
  hash: string;
  iterations: number;
  created_at: number;
}

export interface TokenRecord {
  username: string;
  /** ms since the epoch */
  exptime: number;
}

/** What the API shows of a user (EMQX's fields). */
export interface DashboardUserView {
  username: string;
  description: string;
  role: Role;
  backend: 'local';
}

export class DashboardUserError extends Error {
  constructor(
    readonly code: 'ALREADY_EXISTS' | 'BAD_REQUEST' | 'NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}

/** Failed sign-ins of one user name on this node (EMQX's login lock). */
interface Failures {
  count: number;
  first: number;
  lockedUntil: number;
}

const LOCK_AFTER = 5;
const LOCK_WINDOW_MS = 5 * 60_000;
const LOCK_FOR_MS = 10 * 60_000;

/** EMQX's rule: 8 to 64 characters, of at least two kinds (letters, digits, others). */
export function passwordProblem(username: string, password: string): string | undefined {
  if (password.length < 8 || password.length > 64) return 'the password must have 8 to 64 characters';
  const kinds = [/[A-Za-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (kinds < 2) return 'the password must mix at least two of: letters, digits, other characters';
  if (password === username || ['public', 'password', 'admin123', 'changeme'].includes(password.toLowerCase())) return 'the password is too easy to guess';
  return undefined;
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export class DashboardUsers {
  private readonly users = new Map<string, DashboardUserRecord>();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly failures = new Map<string, Failures>();

  constructor(
    readonly tokenTtlMs: number,
    private readonly usersTable?: RecordTable,
    private readonly tokensTable?: RecordTable,
  ) {
    for (const [, v] of usersTable?.entries() ?? []) this.remember(JSON.parse(v) as DashboardUserRecord);
    for (const [id, v] of tokensTable?.entries() ?? []) this.tokens.set(id, JSON.parse(v) as TokenRecord);
    this.sweep();
  }

  get size(): number {
    return this.users.size;
  }

  list(): DashboardUserView[] {
    return [...this.users.values()].sort((a, b) => a.created_at - b.created_at).map(view);
  }

  user(username: string): DashboardUserView | undefined {
    const r = this.users.get(username);
    return r && view(r);
  }

  async add(username: string, password: string, role: Role, description = ''): Promise<DashboardUserView> {
    if (this.users.has(username)) throw new DashboardUserError('ALREADY_EXISTS', `user ${username} already exists`);
    const problem = passwordProblem(username, password);
    if (problem) throw new DashboardUserError('BAD_REQUEST', problem);
    const salt = randomBytes(16).toString('hex');
    const hash = (await pbkdf2Async(password, salt, ITERATIONS, 32, 'sha256')).toString('hex');
    // checked again: another request may have added the name while hashing
    if (this.users.has(username)) throw new DashboardUserError('ALREADY_EXISTS', `user ${username} already exists`);
    const rec: DashboardUserRecord = { username, description, role, salt, hash, iterations: ITERATIONS, created_at: Date.now() };
    this.saveUser(rec);
    return view(rec);
  }

  update(username: string, change: { role?: Role; description?: string }): DashboardUserView | undefined {
    const old = this.users.get(username);
    if (!old) return undefined;
    const rec = { ...old, ...(change.role ? { role: change.role } : {}), ...(change.description !== undefined ? { description: change.description } : {}) };
    this.saveUser(rec);
    return view(rec);
  }

  /** Checks the old password, then sets the new one; the user's tokens stay valid (EMQX). */
  async changePassword(username: string, oldPwd: string, newPwd: string): Promise<'ok' | 'bad_password' | 'not_found'> {
    const rec = this.users.get(username);
    if (!rec) return 'not_found';
    if (!(await matches(rec, oldPwd))) return 'bad_password';
    const problem = passwordProblem(username, newPwd);
    if (problem) throw new DashboardUserError('BAD_REQUEST', problem);
    const salt = randomBytes(16).toString('hex');
    const hash = (await pbkdf2Async(newPwd, salt, ITERATIONS, 32, 'sha256')).toString('hex');
    this.saveUser({ ...rec, salt, hash, iterations: ITERATIONS });
    return 'ok';
  }

  delete(username: string): boolean {
    if (!this.users.delete(username)) return false;
    this.usersTable?.delete(username);
    return true;
  }

  /** A token for a right password; `locked` after 5 failures within 5 minutes (for 10 minutes). */
  async login(username: string, password: string): Promise<{ token: string; id: string; role: Role; exptime: number } | 'bad' | 'locked'> {
    const now = Date.now();
    const f = this.failures.get(username);
    if (f && f.lockedUntil > now) return 'locked';
    const rec = this.users.get(username);
    const ok = await matches(rec ?? DUMMY, password);
    if (!rec || !ok) {
      const cur = f && now - f.first < LOCK_WINDOW_MS ? f : { count: 0, first: now, lockedUntil: 0 };
      cur.count++;
      if (cur.count >= LOCK_AFTER) cur.lockedUntil = now + LOCK_FOR_MS;
      this.failures.set(username, cur);
      return 'bad';
    }
    this.failures.delete(username);
    const token = randomBytes(32).toString('base64url');
    const id = digest(token);
    const t: TokenRecord = { username, exptime: now + this.tokenTtlMs };
    this.putToken(id, t);
    return { token, id, role: rec.role, exptime: t.exptime };
  }

  /** Forgets `token` if it is `username`'s; the id of the forgotten token, for the other nodes. */
  logout(username: string, token: string): string | undefined {
    const id = digest(token);
    const t = this.tokens.get(id);
    if (!t || t.username !== username) return undefined;
    this.deleteToken(id);
    return id;
  }

  /** The signed-in user of an `Authorization: Bearer …` value, while the token lasts and the user exists. */
  verify(header: string | undefined): { username: string; role: Role } | undefined {
    if (!header || !header.startsWith('Bearer ')) return undefined;
    const t = this.tokens.get(digest(header.slice(7).trim()));
    if (!t || t.exptime <= Date.now()) return undefined;
    const rec = this.users.get(t.username);
    return rec && { username: rec.username, role: rec.role };
  }

  /** Drops expired tokens (each node its own: no copying needed). */
  sweep(): void {
    const now = Date.now();
    for (const [id, t] of this.tokens) if (t.exptime <= now) this.deleteToken(id);
  }

  // the synced tables' side (dashboard-tables.ts)
  userRecords(): [string, DashboardUserRecord][] {
    return [...this.users].map(([k, v]) => [k, { ...v }]);
  }
  userRecord(username: string): DashboardUserRecord | undefined {
    return this.users.get(username);
  }
  putUserRecord(rec: DashboardUserRecord): void {
    this.saveUser({ ...rec });
  }
  tokenRecords(): [string, TokenRecord][] {
    return [...this.tokens];
  }
  tokenRecord(id: string): TokenRecord | undefined {
    return this.tokens.get(id);
  }
  putToken(id: string, t: TokenRecord): void {
    if (t.exptime <= Date.now()) return;
    this.tokens.set(id, t);
    this.tokensTable?.put(id, JSON.stringify(t));
  }
  deleteToken(id: string): boolean {
    if (!this.tokens.delete(id)) return false;
    this.tokensTable?.delete(id);
    return true;
  }

  private saveUser(rec: DashboardUserRecord): void {
    this.usersTable?.put(rec.username, JSON.stringify(rec));
    this.remember(rec);
  }

  private remember(rec: DashboardUserRecord): void {
    this.users.set(rec.username, rec);
  }
}

async function matches(rec: { salt: string; hash: string; iterations: number }, password: string): Promise<boolean> {
  const got = await pbkdf2Async(password, rec.salt, rec.iterations, 32, 'sha256');
  const want = Buffer.from(rec.hash, 'hex');
  return want.length === got.length && timingSafeEqual(want, got);
}

function view(r: DashboardUserRecord): DashboardUserView {
  return { username: r.username, description: r.description, role: r.role, backend: 'local' };
}

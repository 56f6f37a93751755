/**
 * EMQX's built-in database authenticator: user id (a username or a client id) → salted
 * password hash and `is_superuser`, kept in a record table of the node's store.
 */
import { hashPassword, verifyPassword, DEFAULT_HASH, type HashAlgorithm, type PasswordHash } from './password-hash.js';
import type { RecordTable } from '@vireo/broker';

export interface UserView {
  user_id: string;
  is_superuser: boolean;
}

/** A user as stored: its hash, never its password (what a node copies to its peers). */
export interface UserRecord extends PasswordHash {
  is_superuser: boolean;
}

export type CheckResult = { ok: true; isSuperuser: boolean } | { ok: false; reason: 'not_found' | 'bad_password' };

export class UserExistsError extends Error {}

export class BuiltinUsers {
  private readonly users = new Map<string, UserRecord>();
  /**
   * Hashed once with the configured algorithm and its parameters, and compared against when
   * the user does not exist: a probe cannot tell by timing which user ids exist.
   */
  private dummy: Promise<PasswordHash> | undefined;

  constructor(
    private readonly table: RecordTable,
    private algorithm: HashAlgorithm = DEFAULT_HASH,
  ) {
    for (const [id, value] of table.entries()) this.users.set(id, JSON.parse(value) as UserRecord);
  }

  get size(): number {
    return this.users.size;
  }

  list(): UserView[] {
    return [...this.users.keys()].sort().map((id) => this.get(id)!);
  }

  get(id: string): UserView | undefined {
    const u = this.users.get(id);
    return u && { user_id: id, is_superuser: u.is_superuser };
  }

  async add(id: string, password: string, isSuperuser: boolean): Promise<UserView> {
    if (this.users.has(id)) throw new UserExistsError(`user ${id} already exists`);
    const rec: UserRecord = { ...(await hashPassword(password, this.algorithm)), is_superuser: isSuperuser };
    // checked again: another request may have added it while the hash was computed
    if (this.users.has(id)) throw new UserExistsError(`user ${id} already exists`);
    this.save(id, rec);
    return this.get(id)!;
  }

  /** Undefined when there is no such user. */
  async update(id: string, change: { password?: string; is_superuser?: boolean }): Promise<UserView | undefined> {
    const old = this.users.get(id);
    if (!old) return undefined;
    const hash = change.password === undefined ? old : await hashPassword(change.password, this.algorithm);
    const rec: UserRecord = { algorithm: hash.algorithm, salt: hash.salt, hash: hash.hash, is_superuser: change.is_superuser ?? old.is_superuser };
    if (!this.users.has(id)) return undefined;
    this.save(id, rec);
    return this.get(id);
  }

  /**
   * EMQX's user import: either a plain `password` (hashed here) or a `password_hash` (hex) and
   * `salt` made elsewhere with the configured algorithm (what EMQX exports). Replaces a user
   * that exists. Throws (Error) on an entry that has neither, or a hash that is not hex.
   */
  async import(u: { user_id: string; password?: string; password_hash?: string; salt?: string; is_superuser?: boolean }): Promise<'added' | 'override'> {
    let hash: PasswordHash;
    if (u.password !== undefined) hash = await hashPassword(u.password, this.algorithm);
    else if (u.password_hash !== undefined && /^([0-9a-fA-F]{2})+$/.test(u.password_hash)) {
      hash = { algorithm: this.algorithm, salt: u.salt ?? '', hash: u.password_hash.toLowerCase() };
    } else throw new Error(`user ${u.user_id}: a password, or a hex password_hash with its salt`);
    const existed = this.users.has(u.user_id);
    this.save(u.user_id, { ...hash, is_superuser: u.is_superuser ?? false });
    return existed ? 'override' : 'added';
  }

  /** The stored record of a user, to copy to another node. */
  record(id: string): UserRecord | undefined {
    return this.users.get(id);
  }

  records(): [string, UserRecord][] {
    return [...this.users];
  }

  /** Puts a record another node made, as is (no hashing here). */
  putRecord(id: string, rec: UserRecord): void {
    this.save(id, { algorithm: rec.algorithm, salt: rec.salt, hash: rec.hash, is_superuser: rec.is_superuser === true });
  }

  delete(id: string): boolean {
    if (!this.users.delete(id)) return false;
    this.table.delete(id);
    return true;
  }

  async check(id: string, password: Buffer | undefined): Promise<CheckResult> {
    const u = this.users.get(id);
    if (!u) {
      await verifyPassword(password ?? Buffer.alloc(0), await (this.dummy ??= hashPassword('-', this.algorithm)));
      return { ok: false, reason: 'not_found' };
    }
    // no password is compared like a wrong one: the same work either way
    if (!(await verifyPassword(password ?? Buffer.alloc(0), u)) || password === undefined) return { ok: false, reason: 'bad_password' };
    return { ok: true, isSuperuser: u.is_superuser };
  }

  private save(id: string, rec: UserRecord): void {
    this.table.put(id, JSON.stringify(rec));
    this.users.set(id, rec);
  }
}

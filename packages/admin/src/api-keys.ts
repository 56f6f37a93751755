/**
 * API keys for the HTTP API, EMQX style: a key and a secret sent as HTTP Basic credentials.
 * Keys come from `api_key.bootstrap_file` (lines `key:secret[:role]`) and from `POST /api/v5/api_key`
 * (`vireo ctl api-keys add`); the latter are kept in the node's store so they survive a
 * restart. Only a digest of each secret is kept; secrets are compared in constant time and
 * never logged. Each key has one of EMQX's roles (roles.ts); without one it is an administrator.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RecordTable } from '@vireo/broker';
import { isRole, type Role } from './roles.js';

/** A key created through the API (EMQX's api_key fields). */
export interface ApiKeyRecord {
  name: string;
  api_key: string;
  desc: string;
  enable: boolean;
  /** ms since the epoch */
  created_at: number;
  /** ms since the epoch; null = never */
  expired_at: number | null;
  /** hex sha256 of the secret */
  secret_digest: string;
  /** absent in records written before roles: administrator */
  role?: Role;
}

/** Who a request's credentials name. */
export interface ApiKeyIdentity {
  key: string;
  role: Role;
}

export class ApiKeys {
  /** Bootstrap keys: key → digest of the secret, and role. */
  private readonly keys = new Map<string, { digest: Buffer; role: Role }>();
  /** Created keys by name, and name by api_key. */
  private readonly created = new Map<string, ApiKeyRecord>();
  private readonly byKey = new Map<string, string>();
  private table: RecordTable | undefined;

  add(key: string, secret: string, role: Role = 'administrator'): void {
    this.keys.set(key, { digest: digest(secret), role });
  }

  /** Keys created through the API are kept in (and first read from) `table`. */
  useTable(table: RecordTable): void {
    this.table = table;
    for (const [, value] of table.entries()) this.remember(JSON.parse(value) as ApiKeyRecord);
  }

  get size(): number {
    return this.keys.size + this.created.size;
  }

  /** Checks an `Authorization: Basic …` header value. */
  verify(header: string | undefined): boolean {
    return this.authenticate(header) !== undefined;
  }

  /** The key and role an `Authorization: Basic …` header value proves, or undefined. */
  authenticate(header: string | undefined): ApiKeyIdentity | undefined {
    if (!header || !header.startsWith('Basic ')) return undefined;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return undefined;
    const key = decoded.slice(0, colon);
    let want = this.keys.get(key);
    if (want === undefined) {
      const rec = this.created.get(this.byKey.get(key) ?? '');
      if (rec && rec.enable && (rec.expired_at === null || rec.expired_at > Date.now())) {
        want = { digest: Buffer.from(rec.secret_digest, 'hex'), role: rec.role ?? 'administrator' };
      }
    }
    // hash both sides so the comparison takes the same time whatever the secret's length
    if (want === undefined || !timingSafeEqual(want.digest, digest(decoded.slice(colon + 1)))) return undefined;
    return { key, role: want.role };
  }

  list(): ApiKeyRecord[] {
    return [...this.created.values()].sort((a, b) => a.created_at - b.created_at);
  }

  get(name: string): ApiKeyRecord | undefined {
    return this.created.get(name);
  }

  /** Creates a key; the secret is returned this once. Throws when the name is taken. */
  create(name: string, desc: string, enable: boolean, expiredAt: number | null, role: Role = 'administrator'): ApiKeyRecord & { api_secret: string } {
    if (this.created.has(name)) throw new Error(`api key ${name} already exists`);
    const apiSecret = randomBytes(24).toString('base64url');
    const rec: ApiKeyRecord = {
      name,
      api_key: randomBytes(8).toString('hex'),
      desc,
      enable,
      created_at: Date.now(),
      expired_at: expiredAt,
      secret_digest: digest(apiSecret).toString('hex'),
      role,
    };
    this.save(rec);
    return { ...rec, api_secret: apiSecret };
  }

  update(name: string, change: { desc?: string; enable?: boolean; expired_at?: number | null; role?: Role }): ApiKeyRecord | undefined {
    const old = this.created.get(name);
    if (!old) return undefined;
    const rec = { ...old };
    if (change.desc !== undefined) rec.desc = change.desc;
    if (change.enable !== undefined) rec.enable = change.enable;
    if (change.expired_at !== undefined) rec.expired_at = change.expired_at;
    if (change.role !== undefined) rec.role = change.role;
    this.save(rec);
    return rec;
  }

  /** Puts a key another node created, as is (its secret's digest only). */
  put(rec: ApiKeyRecord): void {
    const old = this.created.get(rec.name);
    if (old) this.byKey.delete(old.api_key);
    this.save({ ...rec });
  }

  delete(name: string): boolean {
    const rec = this.created.get(name);
    if (!rec) return false;
    this.table?.delete(name);
    this.created.delete(name);
    this.byKey.delete(rec.api_key);
    return true;
  }

  private save(rec: ApiKeyRecord): void {
    this.table?.put(rec.name, JSON.stringify(rec));
    this.remember(rec);
  }

  private remember(rec: ApiKeyRecord): void {
    this.created.set(rec.name, rec);
    this.byKey.set(rec.api_key, rec.name);
  }

  /**
   * Reads `key:secret` or `key:secret:role` lines (EMQX's bootstrap format; the role
   * defaults to administrator); blank lines and `#` comments are skipped. Throws naming the
   * line on a bad one.
   */
  static fromFile(file: string): ApiKeys {
    const keys = new ApiKeys();
    const lines = readFileSync(file, 'utf8').split(/\r?\n/);
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const parts = line.split(':');
      const [key, secret, role] = parts;
      if (parts.length > 3 || !key || !secret) throw new Error(`${file}:${i + 1}: expected key:secret or key:secret:role`);
      if (role !== undefined && !isRole(role)) throw new Error(`${file}:${i + 1}: unknown role "${role}" (administrator, viewer or publisher)`);
      keys.add(key, secret, role ?? 'administrator');
    });
    return keys;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

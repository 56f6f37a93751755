/**
 * API keys for the HTTP API, EMQX style: a key and a secret sent as HTTP Basic credentials.
 * Keys come from `api_key.bootstrap_file` (lines `key:secret`) and from `POST /api/v5/api_key`
 * (`vireo ctl api-keys add`); the latter are kept in the node's store so they survive a
 * restart. Only a digest of each secret is kept; secrets are compared in constant time and
 * never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RecordTable } from '@vireo/broker';

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
}

export class ApiKeys {
  /** Bootstrap keys: key → digest of the secret. */
  private readonly keys = new Map<string, Buffer>();
  /** Created keys by name, and name by api_key. */
  private readonly created = new Map<string, ApiKeyRecord>();
  private readonly byKey = new Map<string, string>();
  private table: RecordTable | undefined;

  add(key: string, secret: string): void {
    this.keys.set(key, digest(secret));
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
    if (!header || !header.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return false;
    const key = decoded.slice(0, colon);
    let want = this.keys.get(key);
    if (want === undefined) {
      const rec = this.created.get(this.byKey.get(key) ?? '');
      if (rec && rec.enable && (rec.expired_at === null || rec.expired_at > Date.now())) want = Buffer.from(rec.secret_digest, 'hex');
    }
    // hash both sides so the comparison takes the same time whatever the secret's length
    return want !== undefined && timingSafeEqual(want, digest(decoded.slice(colon + 1)));
  }

  list(): ApiKeyRecord[] {
    return [...this.created.values()].sort((a, b) => a.created_at - b.created_at);
  }

  get(name: string): ApiKeyRecord | undefined {
    return this.created.get(name);
  }

  /** Creates a key; the secret is returned this once. Throws when the name is taken. */
  create(name: string, desc: string, enable: boolean, expiredAt: number | null): ApiKeyRecord & { api_secret: string } {
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
    };
    this.save(rec);
    return { ...rec, api_secret: apiSecret };
  }

  update(name: string, change: { desc?: string; enable?: boolean; expired_at?: number | null }): ApiKeyRecord | undefined {
    const old = this.created.get(name);
    if (!old) return undefined;
    const rec = { ...old };
    if (change.desc !== undefined) rec.desc = change.desc;
    if (change.enable !== undefined) rec.enable = change.enable;
    if (change.expired_at !== undefined) rec.expired_at = change.expired_at;
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

  /** Reads `key:secret` lines; blank lines and `#` comments are skipped. Throws naming the line on a bad one. */
  static fromFile(file: string): ApiKeys {
    const keys = new ApiKeys();
    const lines = readFileSync(file, 'utf8').split(/\r?\n/);
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      if (colon <= 0 || colon === line.length - 1) throw new Error(`${file}:${i + 1}: expected key:secret`);
      keys.add(line.slice(0, colon), line.slice(colon + 1));
    });
    return keys;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

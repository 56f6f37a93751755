/**
 * API keys for the HTTP API, EMQX style: a key and a secret sent as HTTP Basic credentials.
 * Keys come from `api_key.bootstrap_file` (lines `key:secret`); secrets are compared in
 * constant time and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export class ApiKeys {
  private readonly keys = new Map<string, Buffer>();

  add(key: string, secret: string): void {
    this.keys.set(key, digest(secret));
  }

  get size(): number {
    return this.keys.size;
  }

  /** Checks an `Authorization: Basic …` header value. */
  verify(header: string | undefined): boolean {
    if (!header || !header.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return false;
    const want = this.keys.get(decoded.slice(0, colon));
    // hash both sides so the comparison takes the same time whatever the secret's length
    return want !== undefined && timingSafeEqual(want, digest(decoded.slice(colon + 1)));
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

/**
 * Salted password hashes for the built-in user database, with EMQX's algorithm names:
 * `pbkdf2` (the default: slow on purpose, computed on libuv's thread pool so the event loop
 * never waits) and salted `sha256` / `sha512` (fast; for users imported from elsewhere).
 * Each user keeps the algorithm it was hashed with, so changing the configured one only
 * affects passwords set afterwards.
 */
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';

export type HashAlgorithm =
  { name: 'pbkdf2'; mac_fun: 'sha256' | 'sha512'; iterations: number; dk_length: number } | { name: 'sha256' | 'sha512'; salt_position: 'prefix' | 'suffix' };

export interface PasswordHash {
  algorithm: HashAlgorithm;
  /** hex */
  salt: string;
  /** hex */
  hash: string;
}

export const DEFAULT_HASH: HashAlgorithm = { name: 'pbkdf2', mac_fun: 'sha256', iterations: 4096, dk_length: 32 };

export async function hashPassword(password: string | Buffer, algorithm: HashAlgorithm): Promise<PasswordHash> {
  const salt = randomBytes(16).toString('hex');
  return { algorithm, salt, hash: (await compute(Buffer.from(password), salt, algorithm)).toString('hex') };
}

/** Compares in constant time. */
export async function verifyPassword(password: Buffer, stored: PasswordHash): Promise<boolean> {
  const want = Buffer.from(stored.hash, 'hex');
  const got = await compute(password, stored.salt, stored.algorithm);
  return got.length === want.length && timingSafeEqual(got, want);
}

function compute(password: Buffer, salt: string, a: HashAlgorithm): Promise<Buffer> {
  if (a.name === 'pbkdf2') {
    return new Promise((resolve, reject) => pbkdf2(password, salt, a.iterations, a.dk_length, a.mac_fun, (err, key) => (err ? reject(err) : resolve(key))));
  }
  // EMQX's salted hashes: hash(salt ++ password) or hash(password ++ salt)
  const s = Buffer.from(salt);
  const input = a.salt_position === 'prefix' ? Buffer.concat([s, password]) : Buffer.concat([password, s]);
  return Promise.resolve(createHash(a.name).update(input).digest());
}

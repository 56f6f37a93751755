/**
 * The cluster cookie: the operator's (`node.cookie`), or one this node generates once into
 * `<data_dir>/cookie` (mode 0600) and reads back on later starts. A published or short
 * cookie is refused at start-up: anyone who can read our docs or deployment files could
 * otherwise join the cluster and send it admin operations.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from './config-error.js';

export const MIN_COOKIE_LENGTH = 16;

/**
 * Cookies that were published: the old built-in default and the placeholders our own
 * docker-compose.yml and k8s/ manifests shipped. Kept here for good, whatever those
 * files say now: deployments copied from them are still around.
 */
export const KNOWN_COOKIES: readonly string[] = ['vireosecretcookie', 'change-me-compose-cookie', 'change-me-cluster-cookie', 'a-long-random-secret', 'emqxsecretcookie'];

/** Why `cookie` is not acceptable (for `node.cookie: …` messages), or undefined. */
export function weakCookie(cookie: string): string | undefined {
  const lower = cookie.toLowerCase();
  if (KNOWN_COOKIES.includes(lower)) return 'a published cookie (a default or an example) admits anyone who read it: set a secret of your own';
  // placeholders of every shape ("change-me-…", "changeme", "replace_me")
  if (/change.?me|replace.?me/.test(lower)) return 'a placeholder left in: set a secret of your own';
  if (cookie.length < MIN_COOKIE_LENGTH) return `at least ${MIN_COOKIE_LENGTH} characters (e.g. \`openssl rand -hex 24\`)`;
  return undefined;
}

export const COOKIE_FILE = 'cookie';

/**
 * The cookie this node proves in the cluster handshake. `configured` is `node.cookie`
 * ('' when unset); without it the cookie file in `dataDir` is read, or created.
 */
export function resolveCookie(configured: string, dataDir: string, logger: Logger): string {
  if (configured !== '') return configured;
  const file = path.resolve(dataDir, COOKIE_FILE);
  const bad = (message: string) => new ConfigError([{ path: 'node.cookie', message }]);
  let existing: string | undefined;
  try {
    const st = statSync(file);
    // like Erlang's .erlang.cookie: a secret others can read is no secret
    if ((st.mode & 0o077) !== 0) throw bad(`unset, and ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
    existing = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw bad(`unset, and ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (existing !== undefined) {
    const why = weakCookie(existing);
    if (why) throw bad(`unset, and the cookie in ${file} is not acceptable: ${why}`);
    logger.info({ file }, 'Cluster cookie read from the data dir (node.cookie unset); other nodes of this cluster need the same cookie');
    return existing;
  }
  const cookie = randomBytes(32).toString('base64url');
  try {
    mkdirSync(dataDir, { recursive: true });
    // 'wx': never overwrite a cookie another process wrote meanwhile; 0600 from the start
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, `${cookie}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw bad(`unset, and no cookie could be written to ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}); set node.cookie`);
  }
  logger.warn(
    { file },
    'node.cookie is unset: generated a random cluster cookie into the data dir. A standalone node needs nothing more; to form a cluster give every node the same cookie (copy this file, or set node.cookie / VIREO_NODE__COOKIE)',
  );
  return cookie;
}

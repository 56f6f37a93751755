/**
 * The authenticators of `authentication`, built from their settings and run in order: the
 * first that allows or denies decides; a client every one passes on is refused.
 */
import { readFile } from 'node:fs/promises';
import type pino from 'pino';
import type { AuthenticateRequest } from '@vireo/broker';
import type { BuiltinUsers } from '../builtin-users.js';
import type { HashAlgorithm } from '../password-hash.js';
import { parseUsersFile } from '../users-file.js';
import type { Authenticator, AuthnOutcome } from './authenticator.js';
import { BuiltinAuthenticator } from './built-in.js';
import { HttpAuthenticator, type HttpAuthnOptions } from './http.js';
import { JwtAuthenticator, type JwtOptions } from './jwt.js';

export type AuthenticatorConfig =
  | {
      mechanism: 'password_based';
      backend: 'built_in_database';
      enable?: boolean;
      userIdType: 'username' | 'clientid';
      algorithm: HashAlgorithm;
      /** EMQX's bootstrap_file / bootstrap_type: users added at start when missing. */
      bootstrap?: { file: string; type: 'plain' | 'hash' };
    }
  | ({ mechanism: 'password_based'; backend: 'http'; enable?: boolean } & HttpAuthnOptions)
  | ({ mechanism: 'jwt'; enable?: boolean } & JwtOptions);

/** What the chain concluded: an outcome, and which authenticator gave it (none: all passed on). */
export interface ChainResult {
  outcome: AuthnOutcome;
  by: string | undefined;
}

export class AuthnChain {
  readonly authenticators: Authenticator[];

  constructor(
    readonly configs: readonly AuthenticatorConfig[],
    users: BuiltinUsers,
    private readonly logger: pino.Logger,
  ) {
    this.authenticators = configs.filter((c) => c.enable !== false).map((c) => build(c, users, logger));
  }

  get empty(): boolean {
    return this.authenticators.length === 0;
  }

  /** Bootstrap files, the first JWKS fetch. */
  async start(users: BuiltinUsers): Promise<void> {
    for (const c of this.configs) {
      if (c.enable === false) continue;
      if (c.mechanism === 'password_based' && c.backend === 'built_in_database' && c.bootstrap) await bootstrap(users, c.bootstrap, this.logger);
    }
    for (const a of this.authenticators) if (a instanceof JwtAuthenticator) await a.start();
  }

  async run(req: AuthenticateRequest): Promise<ChainResult> {
    const ignored: string[] = [];
    for (const a of this.authenticators) {
      const outcome = await a.authenticate(req);
      if (outcome.result !== 'ignore') return { outcome, by: a.id };
      ignored.push(outcome.reason);
    }
    return { outcome: { result: 'ignore', reason: ignored.join(',') }, by: undefined };
  }

  close(): void {
    for (const a of this.authenticators) a.close();
  }
}

function build(c: AuthenticatorConfig, users: BuiltinUsers, logger: pino.Logger): Authenticator {
  if (c.mechanism === 'jwt') return new JwtAuthenticator(c, logger);
  if (c.backend === 'http') return new HttpAuthenticator(c, logger);
  return new BuiltinAuthenticator(users, c.userIdType);
}

/** Adds the file's users that do not exist yet; throws (naming the file) when it cannot be read. */
async function bootstrap(users: BuiltinUsers, b: { file: string; type: 'plain' | 'hash' }, logger: pino.Logger): Promise<void> {
  let text: string;
  try {
    text = await readFile(b.file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${b.file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let added = 0;
  for (const [i, u] of parseUsersFile(text, b.file).entries()) {
    const id = u.user_id;
    if (typeof id !== 'string' || id === '') throw new Error(`${b.file}: user ${i + 1} has no user_id`);
    if (users.get(id)) continue;
    const entry =
      b.type === 'plain'
        ? { user_id: id, password: strOf(u.password, b.file, id, 'password'), is_superuser: u.is_superuser === true }
        : {
            user_id: id,
            password_hash: strOf(u.password_hash, b.file, id, 'password_hash'),
            salt: typeof u.salt === 'string' ? u.salt : '',
            is_superuser: u.is_superuser === true,
          };
    try {
      await users.import(entry);
    } catch (err) {
      throw new Error(`${b.file}: ${(err as Error).message}`);
    }
    added++;
  }
  logger.info({ file: b.file, added }, 'Bootstrap users added');
}

function strOf(v: unknown, file: string, id: string, field: string): string {
  if (typeof v !== 'string' || v === '') throw new Error(`${file}: user ${id} has no ${field} (bootstrap_type ${field === 'password' ? 'plain' : 'hash'})`);
  return v;
}

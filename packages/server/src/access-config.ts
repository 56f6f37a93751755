/**
 * Maps `authentication` and `authorization.*` to access control (`@vireo/access`), with users,
 * bans and API keys kept in the node's store (`vireo.db` in the data dir; in memory with
 * `durable_storage.backend: memory`). A bad ACL file stops start-up naming the key.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parse } from 'yaml';
import { AccessControl, Acl, AclError, MemoryRecordTables, type AuthenticatorConfig, type HashAlgorithm, type JwtKey, type RecordTables, type SourceConfig } from '@vireo/access';
import { openRecordTables } from '@vireo/store';
import { ConfigError } from './config-error.js';
import type { ConfigIssue } from './config-validate.js';
import type { VireoConfig } from './config-schema.js';

/** The record tables of the node's store (call after the store has claimed the data dir). */
export function openTablesFor(cfg: VireoConfig): RecordTables {
  return cfg.durable_storage.backend === 'memory' ? new MemoryRecordTables() : openRecordTables(cfg.node.data_dir);
}

/** Reads an ACL file: YAML (or JSON, which YAML reads too), a list of rules. Throws AclError. */
export function readAclFile(file: string): Acl {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AclError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return compileAclText(text, file);
}

/** Rules written as an ACL file is (YAML or JSON); `source` names them in errors. Throws AclError. */
export function compileAclText(text: string, source: string): Acl {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new AclError(`${source}: ${(err as Error).message.split('\n')[0]}`);
  }
  return Acl.compile(raw, source);
}

type AuthnItem = VireoConfig['authentication'][number];
type SourceItem = VireoConfig['authorization']['sources'][number];

function authenticatorOf(a: AuthnItem): AuthenticatorConfig {
  switch (a.id) {
    case 'password_based:built_in_database': {
      const h = a.password_hash_algorithm;
      const algorithm: HashAlgorithm =
        h.name === 'pbkdf2' ? { name: 'pbkdf2', mac_fun: h.mac_fun, iterations: h.iterations, dk_length: h.dk_length } : { name: h.name, salt_position: h.salt_position };
      return {
        mechanism: 'password_based',
        backend: 'built_in_database',
        enable: a.enable,
        userIdType: a.user_id_type,
        algorithm,
        bootstrap: a.bootstrap_file === undefined ? undefined : { file: a.bootstrap_file, type: a.bootstrap_type },
      };
    }
    case 'password_based:http':
      return {
        mechanism: 'password_based',
        backend: 'http',
        enable: a.enable,
        method: a.method,
        url: a.url,
        headers: a.headers,
        body: a.body,
        requestTimeout: a.request_timeout,
        poolSize: a.pool_size,
        cache: { enable: a.cache.enable, maxSize: a.cache.max_size, ttl: a.cache.ttl },
      };
    case 'jwt': {
      const key: JwtKey = a.use_jwks
        ? { kind: 'jwks', endpoint: a.endpoint ?? '', refreshInterval: a.refresh_interval }
        : a.algorithm === 'hmac-based'
          ? { kind: 'secret', secret: a.secret ?? '', base64: a.secret_base64_encoded }
          : { kind: 'public_key', pem: a.public_key ?? '' };
      return {
        mechanism: 'jwt',
        enable: a.enable,
        from: a.from,
        key,
        verifyClaims: a.verify_claims,
        aclClaimName: a.acl_claim_name,
        disconnectAfterExpire: a.disconnect_after_expire,
      };
    }
  }
}

/** What the schema cannot say: settings one kind of authenticator needs (e.g. a JWT key). */
function requiredSettings(cfg: VireoConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  cfg.authentication.forEach((a, i) => {
    const at = `authentication[${i}]`;
    if (a.id === 'password_based:http' && a.url === '') issues.push({ path: `${at}.url`, message: 'required for an http authenticator' });
    if (a.id !== 'jwt') return;
    if (a.use_jwks && !a.endpoint) issues.push({ path: `${at}.endpoint`, message: 'required with use_jwks: true (the JWKS URL)' });
    else if (!a.use_jwks && a.algorithm === 'hmac-based' && !a.secret) issues.push({ path: `${at}.secret`, message: 'required with algorithm: hmac-based' });
    else if (!a.use_jwks && a.algorithm === 'public-key' && !a.public_key)
      issues.push({ path: `${at}.public_key`, message: 'required with algorithm: public-key (a PEM key or a file)' });
  });
  cfg.authorization.sources.forEach((s, i) => {
    if (s.id === 'http' && s.url === '') issues.push({ path: `authorization.sources[${i}].url`, message: 'required for an http source' });
    if (s.id === 'file' && s.path === '') issues.push({ path: `authorization.sources[${i}].path`, message: 'required for a file source (the ACL file)' });
  });
  return issues;
}

function sourceOf(s: SourceItem): SourceConfig {
  if (s.id === 'file') return { type: 'file', enable: s.enable, path: s.path, load: () => readAclFile(s.path), compileText: (text) => compileAclText(text, 'rules') };
  return { type: 'http', enable: s.enable, method: s.method, url: s.url, headers: s.headers, body: s.body, requestTimeout: s.request_timeout, poolSize: s.pool_size };
}

/** Builds access control and starts it (bootstrap users, the first JWKS fetch); a bad setting stops start-up naming its key. */
export async function accessControlFor(cfg: VireoConfig, tables: RecordTables, logger: Logger): Promise<AccessControl> {
  const missing = requiredSettings(cfg);
  if (missing.length) throw new ConfigError(missing);
  const enabled = cfg.authentication.filter((a) => a.enable);
  let access: AccessControl;
  try {
    access = new AccessControl({
      authentication: cfg.authentication.map(authenticatorOf),
      authorization: {
        noMatch: cfg.authorization.no_match,
        denyAction: cfg.authorization.deny_action,
        sources: cfg.authorization.sources.map(sourceOf),
        cache: { enable: cfg.authorization.cache.enable, maxSize: cfg.authorization.cache.max_size, ttl: cfg.authorization.cache.ttl },
      },
      tables,
      logger,
      flapping: cfg.flapping_detect.enable
        ? { maxCount: cfg.flapping_detect.max_count, windowMs: cfg.flapping_detect.window_time, banMs: cfg.flapping_detect.ban_time }
        : undefined,
    });
  } catch (err) {
    const i = cfg.authorization.sources.findIndex((s) => s.id === 'file');
    if (err instanceof AclError) throw new ConfigError([{ path: `authorization.sources[${i}].path`, message: err.message }]);
    const j = cfg.authentication.findIndex((a) => a.id === 'jwt');
    // a public key that does not parse
    if (j >= 0) throw new ConfigError([{ path: `authentication[${j}].public_key`, message: (err as Error).message }]);
    throw err;
  }
  try {
    await access.start();
  } catch (err) {
    const i = cfg.authentication.findIndex((a) => a.id === 'password_based:built_in_database');
    throw new ConfigError([{ path: `authentication[${i}].bootstrap_file`, message: (err as Error).message }]);
  }
  const summary = { authenticators: enabled.map((a) => a.id), users: access.users.size, bans: access.banned.size, sources: access.settings.sources };
  if (enabled.length === 0) logger.warn(summary, 'Authentication off: every client is accepted (authentication: [])');
  else logger.info(summary, 'Authentication by the authenticator chain');
  return access;
}

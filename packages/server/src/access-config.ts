/**
 * Maps `authentication.*` and `authorization.*` to the broker's access control, with users,
 * bans and API keys kept in the node's store (`vireo.db` in the data dir; in memory with
 * `durable_storage.backend: memory`). A bad ACL file stops start-up naming the key.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parse } from 'yaml';
import { AccessControl, Acl, AclError, MemoryRecordTables, type HashAlgorithm, type RecordTables } from '@vireo/access';
import { openRecordTables } from '@vireo/store';
import { ConfigError } from './config-error.js';
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
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new AclError(`${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  return Acl.compile(raw, file);
}

export function accessControlFor(cfg: VireoConfig, tables: RecordTables, logger: Logger): AccessControl {
  const a = cfg.authentication;
  const h = a.password_hash_algorithm;
  const algorithm: HashAlgorithm =
    h.name === 'pbkdf2' ? { name: 'pbkdf2', mac_fun: h.mac_fun, iterations: h.iterations, dk_length: h.dk_length } : { name: h.name, salt_position: h.salt_position };
  const file = cfg.authorization.sources.file.path;
  try {
    const access = new AccessControl({
      authentication: { enable: a.enable, allowAnonymous: a.allow_anonymous, userIdType: a.user_id_type, algorithm },
      authorization: {
        noMatch: cfg.authorization.no_match,
        denyAction: cfg.authorization.deny_action,
        loadRules: file === undefined ? undefined : () => readAclFile(file),
      },
      tables,
      logger,
    });
    logger.info(
      { authentication: a.enable, users: access.users.size, bans: access.banned.size, acl: access.settings.sources[0]?.rules ?? null },
      a.enable ? 'Authentication by the built-in database' : 'Authentication off: every client is accepted',
    );
    return access;
  } catch (err) {
    if (err instanceof AclError) throw new ConfigError([{ path: 'authorization.sources.file.path', message: err.message }]);
    throw err;
  }
}

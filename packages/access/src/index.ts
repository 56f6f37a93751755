/**
 * Access control, plugged into the broker through its hooks: the authenticator chain, the ACL,
 * bans, the built-in user database, password hashing and in-memory record tables.
 */
export { AccessControl, AccessCounters, normalizeIp } from './access-control.js';
export type { AccessControlOptions } from './access-control.js';
export { Acl, AclError, filterCovers } from './acl.js';
export type { AclRule, AclWho, AclDecision } from './acl.js';
export { BanError, BanList, BAN_KINDS, normalizeBanWho } from './banned.js';
export type { Ban, BanKind } from './banned.js';
export { BuiltinUsers, UserExistsError } from './builtin-users.js';
export type { UserView, CheckResult, UserRecord } from './builtin-users.js';
export { DEFAULT_HASH, hashPassword, verifyPassword } from './password-hash.js';
export type { HashAlgorithm, PasswordHash } from './password-hash.js';
export { MemoryRecordTables } from './record-table.js';
export type { RecordTable, RecordTables } from './record-table.js';
export type { AuthenticatorConfig, ChainResult } from './authn/chain.js';
export type { Authenticator, AuthnOutcome } from './authn/authenticator.js';
export type { HttpAuthnOptions } from './authn/http.js';
export type { JwtKey, JwtOptions } from './authn/jwt.js';
export type { SourceConfig } from './authz/sources.js';
export type { HttpServiceOptions } from './http-request.js';
export { parseUsersFile } from './users-file.js';
export { FlappingDetector, DEFAULT_FLAPPING } from './flapping.js';
export type { FlappingOptions } from './flapping.js';

/** The tables every node keeps the same (record-sync.ts): bans, built-in users, API keys. */
import type { AccessControl, Ban, BanKind, UserRecord } from '@vireo/access';
import type { ApiKeyRecord, ApiKeys } from './api-keys.js';
import { isRole } from './roles.js';
import type { SyncedTable } from './record-sync.js';

/** A ban as JSON carries it (Infinity is not JSON). */
export type WireBan = Omit<Ban, 'until'> & { until: number | null };

const toWire = (b: Ban): WireBan => ({ ...b, until: b.until === Infinity ? null : b.until });
const fromWire = (w: WireBan): Ban => ({ as: w.as, who: w.who, by: w.by, reason: w.reason, at: w.at, until: w.until ?? Infinity });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** `as:who` → its parts (a client id may contain `:`; the kind never does). */
function banKey(id: string): [BanKind, string] {
  const colon = id.indexOf(':');
  return [id.slice(0, colon) as BanKind, id.slice(colon + 1)];
}

export const banId = (b: { as: BanKind; who: string }): string => `${b.as}:${b.who}`;

/** Bans; a ban put on a node kicks the clients it covers there. */
export function bansTable(access: AccessControl): SyncedTable<WireBan> {
  return {
    name: 'banned',
    entries: () => access.banned.list().map((b) => [banId(b), toWire(b)]),
    get: (id) => {
      const b = access.banned.get(...banKey(id));
      return b && toWire(b);
    },
    put: (_id, w) => void access.ban(fromWire(w)),
    delete: (id) => access.banned.delete(...banKey(id)),
    valid: (v): v is WireBan => isObject(v) && typeof v.as === 'string' && typeof v.who === 'string' && typeof v.at === 'number',
  };
}

/** Built-in users, as stored: the salted hash, never the password. */
export function usersTable(access: AccessControl): SyncedTable<UserRecord> {
  return {
    name: 'users',
    entries: () => access.users.records(),
    get: (id) => access.users.record(id),
    put: (id, rec) => access.users.putRecord(id, rec),
    delete: (id) => access.users.delete(id),
    valid: (v): v is UserRecord => isObject(v) && typeof v.salt === 'string' && typeof v.hash === 'string' && isObject(v.algorithm),
  };
}

/** API keys made through the API (the secret's digest only); bootstrap-file keys are each node's own. */
export function apiKeysTable(keys: ApiKeys): SyncedTable<ApiKeyRecord> {
  return {
    name: 'api_keys',
    entries: () => keys.list().map((r) => [r.name, r]),
    get: (name) => keys.get(name),
    put: (_name, rec) => keys.put(rec),
    delete: (name) => keys.delete(name),
    valid: (v): v is ApiKeyRecord =>
      isObject(v) && typeof v.name === 'string' && typeof v.api_key === 'string' && typeof v.secret_digest === 'string' && (v.role === undefined || isRole(v.role)),
  };
}

/** The dashboard's tables every node keeps the same (record-sync.ts): its users and their sign-in tokens. */
import type { DashboardUserRecord, DashboardUsers, TokenRecord } from './dashboard-users.js';
import type { SyncedTable } from './record-sync.js';
import { isRole } from './roles.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Users as stored: the salted hash, never the password. */
export function dashboardUsersTable(users: DashboardUsers): SyncedTable<DashboardUserRecord> {
  return {
    name: 'dashboard_users',
    entries: () => users.userRecords(),
    get: (id) => users.userRecord(id),
    put: (_id, rec) => users.putUserRecord(rec),
    delete: (id) => users.delete(id),
    valid: (v): v is DashboardUserRecord =>
      isObject(v) && typeof v.username === 'string' && typeof v.salt === 'string' && typeof v.hash === 'string' && typeof v.iterations === 'number' && isRole(v.role),
  };
}

/** Tokens by the SHA-256 of the token: a peer's copy cannot be used to sign in. */
export function dashboardTokensTable(users: DashboardUsers): SyncedTable<TokenRecord> {
  return {
    name: 'dashboard_tokens',
    entries: () => users.tokenRecords(),
    get: (id) => users.tokenRecord(id),
    put: (id, t) => users.putToken(id, t),
    delete: (id) => users.deleteToken(id),
    valid: (v): v is TokenRecord => isObject(v) && typeof v.username === 'string' && typeof v.exptime === 'number',
  };
}

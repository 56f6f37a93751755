export { openSqliteStore, SqliteStore } from './sqlite-store.js';
export type { OpenStoreOptions, OpenedStore } from './sqlite-store.js';
export { claimDataDir, NODE_FILE } from './node-identity.js';
export type { IdentityResult } from './node-identity.js';
export { StoreError } from './errors.js';
export { DB_FILE } from './schema.js';
export { openRecordTables } from './record-tables.js';

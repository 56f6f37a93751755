/**
 * `node`: this node's name, cluster cookie and data directory.
 */
import { hostname } from 'node:os';
import { str, type SchemaNode } from '../schema-dsl.js';

/** The cookie shipped as default; starting with it logs a warning (docs/clustering.md). */
export const DEFAULT_COOKIE = 'vireosecretcookie';

export const nodeSchema = {
  name: str({
    default: () => `vireo@${hostname()}`,
    docDefault: 'vireo@<hostname>',
    description: 'Name of this node in the cluster, `name@host`. Also the `node` field of every log line.',
    check: (v) => (/^[\w.-]+@[\w.:-]+$/.test(v) ? undefined : 'a node name like vireo@host'),
  }),
  cookie: str({
    default: DEFAULT_COOKIE,
    description:
      'Shared secret peers prove they know (HMAC challenge, never sent in clear) before joining the cluster. Starting with the default logs a warning.',
    check: (v) => (v.length > 0 ? undefined : 'a non-empty string'),
  }),
  data_dir: str({
    default: './data',
    description:
      'Directory for durable state: retained messages and persistent sessions (`vireo.db`), and `node.json`, the node name it belongs to. Keep it across restarts (a volume in containers) and keep `node.name` stable: a data dir of another node name fails start-up unless `vireo start --force`.',
    check: (v) => (v.length > 0 ? undefined : 'a directory path'),
  }),
} as const satisfies SchemaNode;

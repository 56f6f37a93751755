/**
 * `node`: this node's name, cluster cookie and data directory.
 */
import { hostname } from 'node:os';
import { str, type SchemaNode } from '../schema-dsl.js';

export const nodeSchema = {
  name: str({
    default: () => `vireo@${hostname()}`,
    docDefault: 'vireo@<hostname>',
    description: 'Name of this node in the cluster, `name@host`. Also the `node` field of every log line.',
    check: (v) => (/^[\w.-]+@[\w.:-]+$/.test(v) ? undefined : 'a node name like vireo@host'),
  }),
  cookie: str({
    default: '',
    docDefault: 'unset: generated into <data_dir>/cookie',
    description:
      'Shared secret every node of a cluster proves it knows (a mutual HMAC handshake; the cookie is never sent) before it is admitted. Unset: the node generates a random one into `<data_dir>/cookie` (mode 0600) at first start and logs where; a standalone node needs nothing more, a cluster needs the same cookie on every node. At least 16 characters; the old default `vireosecretcookie`, the placeholders of earlier deployment files and other published values are refused at start-up.',
    // the weak-cookie check is at start (cookie.ts): a validation message would print the value
  }),
  data_dir: str({
    default: './data',
    description:
      'Directory for durable state: retained messages and persistent sessions (`vireo.db`), and `node.json`, the node name it belongs to. Keep it across restarts (a volume in containers) and keep `node.name` stable: a data dir of another node name fails start-up unless `vireo start --force`.',
    check: (v) => (v.length > 0 ? undefined : 'a directory path'),
  }),
} as const satisfies SchemaNode;

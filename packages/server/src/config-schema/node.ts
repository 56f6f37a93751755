/**
 * `node`: this node's name, cluster cookie and data directory.
 */
import { hostname } from 'node:os';
import { bool, duration, int, list, str, type SchemaNode } from '../schema-dsl.js';

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
  evacuate_on_shutdown: bool({
    default: false,
    description:
      'On SIGTERM, evacuate before stopping (docs/evacuation.md): refuse new clients, move connected clients and every persistent session to the running nodes at the `node.evacuation` rates, leave the cluster as `stopped`, exit 0. Give the process time for it (Kubernetes: `terminationGracePeriodSeconds`). Skipped when no other node runs.',
  }),
  evacuation: {
    wait_health_check: duration({
      default: 5000,
      min: 0,
      max: 3_600_000,
      description:
        'Evacuation on SIGTERM: how long the node answers 503 on `availability_check` (so load balancers stop sending it clients) before it refuses new CONNECTs and starts disconnecting clients. EMQX `--wait-health-check` (the API and `vireo ctl` default to 60 s as EMQX does).',
    }),
    conn_evict_rate: int({
      default: 500,
      min: 1,
      max: 1_000_000,
      description: 'Evacuation on SIGTERM: clients disconnected per second (DISCONNECT 0x9C). EMQX `--conn-evict-rate`.',
    }),
    wait_takeover: duration({
      default: 10_000,
      min: 0,
      max: 3_600_000,
      description:
        'Evacuation on SIGTERM: how long to wait, after the last client was disconnected, for clients to take their sessions over from the nodes they reconnect to, before the rest are pushed. EMQX `--wait-takeover` (the API and `vireo ctl` default to 60 s).',
    }),
    sess_evict_rate: int({
      default: 500,
      min: 1,
      max: 1_000_000,
      description: 'Evacuation on SIGTERM: persistent sessions handed to other nodes per second. EMQX `--sess-evict-rate`.',
    }),
    redirect_to: str({
      default: '',
      description:
        'Evacuation on SIGTERM: the MQTT 5 Server Reference sent with DISCONNECT 0x9C and CONNACK 0x9C, e.g. `mqtt.example.com:1883` (a load balancer). Empty: none. EMQX `--redirect-to`.',
    }),
    migrate_to: list({
      default: [],
      item: 'string',
      description: 'Evacuation on SIGTERM: the nodes that may receive the sessions (names). Empty: every running node. EMQX `--migrate-to`.',
    }),
  },
} as const satisfies SchemaNode;

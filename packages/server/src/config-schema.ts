/**
 * Every configuration key Vireo knows, with its type, default and meaning.
 *
 * This is the contract of DESIGN.md § Configuration: key names follow EMQX 5 so an
 * EMQX user's habits carry over, every key has a default, and every key can be set
 * from the environment (`VIREO_` + path upper-cased, `__` per dot). The validator,
 * the `VireoConfig` type and docs/configuration.md are all derived from this tree;
 * adding a key here is the whole job (then run `npm run docs:config`).
 *
 * Keys of features that are not built yet are declared too, so that deployments
 * written against the contract (k8s manifests, compose files) validate today.
 */
import { hostname } from 'node:os';
import { WEBHOOK_EVENTS } from '@vireo/bridge';
import { isIP } from 'node:net';
import {
  bind,
  bool,
  bytesize,
  duration,
  int,
  list,
  num,
  oneOf,
  optionalStr,
  str,
  type ConfigOf,
  type SchemaNode,
} from './schema-dsl.js';
import { isAddress, isHttpUrl } from './config-values.js';
import { bridgesSchema } from './config-schema-bridges.js';

/** The cookie shipped as default; starting with it logs a warning (DESIGN.md § Cluster). */
export const DEFAULT_COOKIE = 'vireosecretcookie';

/** Event names a webhook can send, as the bridge package defines them. */
export const WEBHOOK_EVENT_NAMES = WEBHOOK_EVENTS;

const MAX_PACKET = 268_435_455; // the largest size MQTT's variable byte integer can encode

const mqttPath = () =>
  str({
    default: '/mqtt',
    description: 'HTTP path WebSocket clients connect to.',
    check: (v) => (v.startsWith('/') ? undefined : 'a path starting with /'),
  });

const listener = (port: number, what: string) => ({
  bind: bind({
    default: { host: '0.0.0.0', port },
    description: `Address the ${what} listener accepts connections on: \`host:port\`, \`[ipv6]:port\` or a port alone (all IPv4 interfaces). Port 0 disables the listener.`,
  }),
  max_connections: int({
    default: 1_024_000,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    keywords: { infinity: Number.MAX_SAFE_INTEGER },
    description: `Most connections the ${what} listener accepts at once; further ones are refused. \`infinity\` lifts the limit.`,
  }),
});

/** `ssl_options` of a TLS listener, as EMQX names them. */
const sslOptions = (what: string) => ({
  certfile: optionalStr({
    default: undefined,
    docDefault: 'none',
    description: `PEM file with the ${what} listener's certificate (and chain). The listener starts only when \`certfile\` and \`keyfile\` are both set.`,
  }),
  keyfile: optionalStr({
    default: undefined,
    docDefault: 'none',
    description: `PEM file with the private key of \`certfile\`.`,
  }),
  cacertfile: optionalStr({
    default: undefined,
    docDefault: 'none',
    description: 'PEM file of the CA certificates client certificates are checked against (`verify_peer`).',
  }),
  verify: oneOf({
    default: 'verify_none',
    values: ['verify_none', 'verify_peer'],
    description: '`verify_peer` asks clients for a certificate and refuses one that does not chain to `cacertfile`.',
  }),
  fail_if_no_peer_cert: bool({
    default: false,
    description: 'With `verify_peer`: refuse clients that present no certificate at all.',
  }),
});

export const configSchema = {
  node: {
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
  },

  durable_storage: {
    backend: oneOf({
      default: 'sqlite',
      values: ['sqlite', 'memory'],
      description:
        '`sqlite`: retained messages and persistent sessions are kept in `node.data_dir` and survive a restart or a crash; `memory`: nothing survives a restart (tests, benchmarks).',
    }),
    durability: oneOf({
      default: 'durable',
      values: ['durable', 'relaxed'],
      description:
        '`durable`: a QoS 1 PUBACK / QoS 2 PUBREC goes to the publisher only once the copies for persistent sessions (and a retained change) are committed to disk; `relaxed`: acknowledge at once and commit within `flush_interval` — a crash can lose what was acknowledged in that interval. See docs/persistence.md.',
    }),
    flush_interval: duration({
      default: 100,
      min: 1,
      max: 60_000,
      description: 'With `durability: relaxed`, the longest a change waits before its commit starts.',
    }),
  },

  listeners: {
    tcp: { default: listener(1883, 'MQTT over TCP') },
    ws: {
      default: {
        ...listener(8083, 'MQTT over WebSocket'),
        websocket: { mqtt_path: mqttPath() },
      },
    },
    ssl: {
      default: {
        ...listener(8883, 'MQTT over TLS'),
        ssl_options: sslOptions('MQTT over TLS'),
      },
    },
    wss: {
      default: {
        ...listener(8084, 'MQTT over secure WebSocket'),
        websocket: { mqtt_path: mqttPath() },
        ssl_options: sslOptions('secure WebSocket'),
      },
    },
  },

  mqtt: {
    idle_timeout: duration({
      default: 15_000,
      min: 1,
      max: 2 ** 31 - 1,
      description: 'How long a connection may stay open without sending CONNECT before it is closed.',
    }),
    max_packet_size: bytesize({
      default: 1024 * 1024,
      min: 1,
      max: MAX_PACKET,
      description: 'Largest MQTT packet accepted or sent; bigger incoming packets close the connection.',
    }),
    max_clientid_len: int({
      default: 65535,
      min: 23,
      max: 65535,
      description: 'Longest client identifier accepted in CONNECT.',
    }),
    max_topic_levels: int({
      default: 128,
      min: 1,
      max: 65535,
      description: 'Most `/`-separated levels a topic name or filter may have.',
    }),
    max_topic_length: int({
      default: 65535,
      min: 1,
      max: 65535,
      description: 'Longest topic name or filter, in bytes (Vireo addition; EMQX has no such key).',
    }),
    max_qos_allowed: int({
      default: 2,
      min: 0,
      max: 2,
      description: 'Highest QoS the broker grants; higher requested QoS is downgraded.',
    }),
    max_topic_alias: int({
      default: 65535,
      min: 0,
      max: 65535,
      description: 'Topic Alias Maximum announced to MQTT 5 clients; 0 disables topic aliases.',
    }),
    retain_available: bool({ default: true, description: 'Whether retained messages are supported.' }),
    wildcard_subscription: bool({
      default: true,
      description: 'Whether subscriptions may use the `+` and `#` wildcards.',
    }),
    shared_subscription: bool({
      default: true,
      description: 'Whether `$share/group/filter` subscriptions are supported.',
    }),
    ignore_loop_deliver: bool({
      default: false,
      description: 'Do not deliver a message back to the client that published it (MQTT 3.x; v5 has No Local).',
    }),
    server_keepalive: int({
      default: 0,
      min: 1,
      max: 65535,
      keywords: { disabled: 0 },
      docDefault: 'disabled',
      description:
        'Keep alive, in seconds, imposed on MQTT 5 clients through CONNACK; `disabled` lets each client choose.',
    }),
    keepalive_multiplier: num({
      default: 1.5,
      min: 1,
      max: 65535,
      description: 'A client that is silent for keepalive × this factor is disconnected (`keepalive_timeout`).',
    }),
    retry_interval: duration({
      default: 30_000,
      min: 1,
      max: 2 ** 31 - 1,
      description: 'Delay before an unacknowledged QoS 1/2 message is sent again (with DUP set).',
    }),
    session_expiry_interval: duration({
      default: 2 * 3_600_000,
      min: 0,
      max: 0xffffffff * 1000,
      description:
        'How long the session of a disconnected MQTT 3.x client without clean session is kept (v5 clients send their own).',
    }),
    max_awaiting_rel: int({
      default: 100,
      min: 0,
      max: 65535,
      description: 'Most incoming QoS 2 messages awaiting PUBREL per client.',
    }),
    await_rel_timeout: duration({
      default: 300_000,
      min: 1,
      max: 2 ** 31 - 1,
      description: 'How long an incoming QoS 2 message may await PUBREL before it is dropped.',
    }),
    max_mqueue_len: int({
      default: 1000,
      min: 0,
      max: 2 ** 31 - 1,
      description:
        'Most messages queued per session while the inflight window is full or the client is offline; the oldest are dropped beyond.',
    }),
    mqueue_store_qos0: bool({
      default: true,
      description: 'Whether QoS 0 messages are queued for offline sessions too.',
    }),
    max_inflight: int({
      default: 32,
      min: 1,
      max: 65535,
      description: 'Most QoS 1/2 messages sent to a client and not yet acknowledged.',
    }),
    max_subscriptions: int({
      default: 0,
      min: 1,
      max: 2 ** 31 - 1,
      keywords: { infinity: 0 },
      docDefault: 'infinity',
      description: 'Most subscriptions per client; `infinity` for no limit.',
    }),
    upgrade_qos: bool({
      default: false,
      description: 'Deliver at the subscription QoS even when the message was published with a lower one.',
    }),
    shared_subscription_strategy: oneOf({
      default: 'round_robin',
      values: ['random', 'round_robin', 'round_robin_per_group', 'sticky', 'hash_clientid', 'hash_topic', 'local'],
      description: 'How a shared subscription group picks the member that gets each message.',
    }),
    response_information: str({
      default: '',
      description: 'Response Information returned to MQTT 5 clients that request it; empty sends none.',
    }),
  },

  retainer: {
    msg_clear_interval: duration({
      default: 30_000,
      min: 1,
      max: 2 ** 31 - 1,
      keywords: { disabled: 0 },
      description:
        'How often expired messages are deleted in the background (memory and `node.data_dir`): retained messages past their Message Expiry Interval, and expired messages queued for sessions. `disabled`: only when a subscription or delivery finds them. EMQX\'s default is off; Vireo sweeps so the store does not keep them.',
    }),
  },

  sys_topics: {
    sys_msg_interval: duration({
      default: 60_000,
      min: 1,
      max: 2 ** 31 - 1,
      keywords: { disabled: 0 },
      description: 'Interval of the `$SYS/brokers/<node>/…` heartbeat topics (uptime, counters); `disabled` turns them off.',
    }),
    sys_event_messages: {
      client_connected: bool({
        default: true,
        description: 'Publish `$SYS/brokers/<node>/clients/<clientid>/connected` when a client connects.',
      }),
      client_disconnected: bool({
        default: true,
        description: 'Publish `$SYS/brokers/<node>/clients/<clientid>/disconnected` when a client disconnects.',
      }),
    },
  },

  dashboard: {
    listeners: {
      http: {
        bind: bind({
          default: { host: '0.0.0.0', port: 18083 },
          description: 'Address of the HTTP API (`/api/v5`), Prometheus metrics and health probes (`/status`). Port 0 disables it.',
        }),
      },
    },
  },

  cluster: {
    discovery_strategy: oneOf({
      default: 'manual',
      values: ['manual', 'static', 'mcast', 'dns', 'etcd', 'k8s'],
      description:
        'How this node finds its peers: `manual` (no discovery: the node runs alone, with its cluster port open, until `vireo ctl cluster join` makes it join another node\'s cluster; the peers it joined are kept in `node.data_dir`/cluster.json and rejoined after a restart), `static` (seed list), `etcd` (nodes register under a prefix), `dns` (A, AAAA or SRV records), `k8s` (endpoints of a Service), `mcast` (UDP multicast announcements).',
    }),
    static: {
      seeds: list({
        default: [],
        item: 'address',
        description:
          'Peer cluster addresses `host:port` (their `cluster.rpc.bind` port) for the `static` strategy; this node\'s own address may be listed too. Retried every 2 s, so nodes may start in any order.',
      }),
    },
    rpc: {
      bind: bind({
        default: { host: '0.0.0.0', port: 5370 },
        description:
          'Address of the gRPC port that carries all cluster traffic. Peers dial the host given here, or the host part of `node.name` when binding all interfaces. Port 0 turns clustering off.',
      }),
      call_receive_timeout: duration({
        default: 5000,
        min: 100,
        max: 300_000,
        description:
          'How long the HTTP API waits for each other node\'s part of a cluster-wide answer (clients, subscriptions, kick, stats, metrics, trace). A node that does not answer in time is left out and named in the answer\'s `errors`.',
      }),
      driver: oneOf({
        default: 'tcp',
        values: ['tcp', 'ssl'],
        description:
          '`ssl`: mutual TLS on the gRPC port (EMQX\'s `rpc.driver`): each node presents `certfile` and accepts only peers whose certificate chains to `cacertfile`, both ways; the cookie handshake still runs inside. Every node of a cluster must use the same driver.',
      }),
      certfile: optionalStr({
        default: undefined,
        docDefault: 'none',
        description: 'With `driver = ssl`: PEM file with this node\'s certificate (and chain). It must name (SAN) the host peers dial: the `cluster.rpc.bind` host, or the host of `node.name`.',
      }),
      keyfile: optionalStr({ default: undefined, docDefault: 'none', description: 'With `driver = ssl`: PEM file with the private key of `certfile`.' }),
      cacertfile: optionalStr({
        default: undefined,
        docDefault: 'none',
        description: 'With `driver = ssl`: PEM file with the CA certificates every peer\'s certificate must chain to.',
      }),
    },
    etcd: {
      server: list({
        default: [],
        item: 'url',
        description: 'etcd endpoints (`http://host:2379`) for the `etcd` strategy (at least one).',
      }),
      prefix: str({
        default: 'vireocl',
        description: 'Key prefix under which nodes register in etcd: `<prefix>/nodes/<node.name>` = the node\'s cluster address.',
        check: (v) => (v.length > 0 ? undefined : 'a non-empty prefix'),
      }),
      node_ttl: duration({
        default: 60_000,
        min: 1000,
        max: 2 ** 31 - 1,
        description: 'TTL of the etcd lease behind this node\'s key; the key vanishes this long after the node dies.',
      }),
    },
    dns: {
      name: str({
        default: 'localhost',
        description: 'DNS name whose records list the peers, for the `dns` strategy.',
        check: (v) => (v.length > 0 ? undefined : 'a DNS name'),
      }),
      record_type: oneOf({
        default: 'a',
        values: ['a', 'aaaa', 'srv'],
        description: 'Record type to query: `a`/`aaaa` give hosts (port from `cluster.rpc.bind`), `srv` gives hosts and ports.',
      }),
      resolver: str({
        default: '',
        description: 'DNS server to ask, `host:port`; empty asks the system\'s resolvers.',
        check: (v) => (v === '' || isAddress(v) ? undefined : 'empty or a host:port address'),
      }),
    },
    k8s: {
      apiserver: str({
        default: 'https://kubernetes.default.svc:443',
        description: 'Kubernetes API server URL, for the `k8s` strategy (authenticated with the pod\'s service-account token).',
        check: (v) => (isHttpUrl(v) ? undefined : 'an http(s) URL'),
      }),
      service_name: str({
        default: 'vireo',
        description: 'Headless Service whose ready endpoints are the peers (EndpointSlices, or Endpoints on older servers).',
      }),
      namespace: str({ default: 'default', description: 'Namespace of that Service.' }),
      address_type: oneOf({
        default: 'ip',
        values: ['ip', 'dns', 'hostname'],
        description:
          'How peers are dialled: `ip` (pod IP), `dns` (`<ip-with-dashes>.<namespace>.pod.<suffix>`) or `hostname` (`<hostname>.<service>.<namespace>.svc.<suffix>`), always on this node\'s `cluster.rpc.bind` port.',
      }),
      suffix: str({
        default: 'cluster.local',
        description: 'The cluster\'s DNS domain, for address types `dns` and `hostname`.',
        check: (v) => (v.length > 0 ? undefined : 'a DNS domain'),
      }),
      token_file: str({
        default: '/var/run/secrets/kubernetes.io/serviceaccount/token',
        description: 'Service-account token sent to the API server (read again on every request: Kubernetes rotates it).',
      }),
      ca_file: str({
        default: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
        description: 'CA certificate the API server\'s certificate is checked against.',
      }),
    },
    mcast: {
      addr: str({
        default: '239.192.0.1',
        description: 'Multicast group nodes announce themselves on, for the `mcast` strategy.',
        check: (v) => (isIP(v) === 4 ? undefined : 'an IPv4 multicast address'),
      }),
      port: int({ default: 4369, min: 1, max: 65535, description: 'UDP port of the announcements.' }),
      iface: str({
        default: '0.0.0.0',
        description: 'Address of the local interface to send and receive announcements on; `0.0.0.0` lets the system choose.',
        check: (v) => (isIP(v) === 4 ? undefined : 'an IPv4 interface address'),
      }),
      ttl: int({ default: 255, min: 0, max: 255, description: 'Multicast TTL (hops) of the announcements.' }),
    },
    autoclean: duration({
      default: 24 * 3_600_000,
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      description:
        'A node that is not running (down, or stopped) for this long is removed from the cluster view: no longer listed by `vireo ctl cluster status` nor dialled, unless discovery lists it again. Its routes went at once when it went down. 0 never removes.',
    }),
    autoheal: bool({
      default: true,
      description:
        'After a network partition heals, a clientid with a session on both sides keeps only the newest (the older connection gets DISCONNECT 0x8E, its session is discarded). Off: both stay, with a warning, until the client reconnects. Routes resync either way.',
    }),
  },

  authentication: {
    enable: bool({
      default: false,
      description:
        'Check CONNECT credentials against the built-in user database (`vireo ctl users`, `/api/v5/authentication/password_based:built_in_database/users`). Off: every client is accepted, as without an authenticator in EMQX.',
    }),
    mechanism: oneOf({ default: 'password_based', values: ['password_based'], description: 'How clients prove who they are (EMQX name); only `password_based`.' }),
    backend: oneOf({ default: 'built_in_database', values: ['built_in_database'], description: 'Where users are kept (EMQX name): the node\'s own store, per node.' }),
    user_id_type: oneOf({ default: 'username', values: ['username', 'clientid'], description: 'Which CONNECT field names the user: its username or its client id.' }),
    allow_anonymous: bool({
      default: true,
      description: 'With `enable`: accept clients that send no user id (no username), as anonymous. Set `false` to refuse them (CONNACK 0x87 / 5).',
    }),
    password_hash_algorithm: {
      name: oneOf({
        default: 'pbkdf2',
        values: ['pbkdf2', 'sha256', 'sha512'],
        description: 'Hash for passwords set from now on: `pbkdf2` (slow on purpose, computed off the event loop) or salted `sha256`/`sha512` (fast, EMQX-compatible). Each user keeps the algorithm it was set with.',
      }),
      mac_fun: oneOf({ default: 'sha256', values: ['sha256', 'sha512'], description: 'For `pbkdf2`: the HMAC hash.' }),
      iterations: int({ default: 4096, min: 1, max: 10_000_000, description: 'For `pbkdf2`: iterations (each CONNECT of a user costs this many HMACs on the thread pool).' }),
      dk_length: int({ default: 32, min: 16, max: 128, description: 'For `pbkdf2`: derived key length in bytes.' }),
      salt_position: oneOf({ default: 'suffix', values: ['prefix', 'suffix'], description: 'For `sha256`/`sha512`: the salt before or after the password.' }),
    },
  },

  authorization: {
    no_match: oneOf({ default: 'allow', values: ['allow', 'deny'], description: 'What happens when no rule matches a PUBLISH or SUBSCRIBE (EMQX default: allow).' }),
    deny_action: oneOf({
      default: 'ignore',
      values: ['ignore', 'disconnect'],
      description: 'What a denied PUBLISH does besides being dropped: `ignore` (PUBACK 0x87 in v5) or `disconnect` (DISCONNECT 0x87).',
    }),
    sources: {
      file: {
        path: optionalStr({
          default: undefined,
          docDefault: 'none',
          description:
            'ACL file (YAML or JSON list of rules; see docs/security.md). Unset: no rules, and no authorization check on any message. Re-read by `vireo ctl acl reload`.',
        }),
      },
    },
  },

  api_key: {
    bootstrap_file: optionalStr({
      default: undefined,
      docDefault: 'none',
      description: 'File of `key:secret` lines, one API key each, loaded at start. Without a key every `/api/v5` request is refused (probes and metrics stay open).',
    }),
  },

  prometheus: {
    enable: bool({
      default: true,
      description: 'Serve Prometheus metrics (`/api/v5/prometheus/stats`, `/metrics`). `false` also stops what only they need: Node.js process collectors (event-loop delay, GC) and delivery-latency sampling; the scrape paths then answer 404. The plain counters behind `/api/v5/stats` and `$SYS` are always kept. Vireo\'s own key (EMQX\'s metrics cannot be turned off): it exists to measure what metrics cost (docs/performance.md).',
    }),
    enable_basic_auth: bool({
      default: false,
      description: 'Require an API key (HTTP Basic) for `/api/v5/prometheus/stats` and `/metrics`; off by default, as Prometheus setups expect.',
    }),
  },

  webhook: {
    default: {
      url: optionalStr({
        default: undefined,
        docDefault: 'none',
        description: 'URL the webhook POSTs events to (`http://` or `https://`). The webhook is on only when this is set.',
      }),
      events: list({
        default: [...WEBHOOK_EVENT_NAMES],
        item: 'string',
        description: `Events to send: ${WEBHOOK_EVENT_NAMES.map((e) => `\`${e}\``).join(', ')}. Bodies use EMQX's webhook field names (\`action\`, \`clientid\`, \`from_client_id\`, …).`,
      }),
      topic: str({
        default: '#',
        description: 'Topic filter for message and subscription events; `#` is every topic but `$`-topics.',
        check: (v) => (v.length > 0 ? undefined : 'a topic filter'),
      }),
      headers: list({
        default: [],
        item: 'string',
        description: 'Extra request headers, each `Name: value` (e.g. an `Authorization` header).',
      }),
      batch_size: int({ default: 1, min: 1, max: 10_000, description: 'Events per request: 1 sends one JSON object (as EMQX), more send a JSON array.' }),
      max_queue: int({ default: 10_000, min: 1, max: 10_000_000, description: 'Events waiting for the endpoint; when full the oldest are dropped (and counted).' }),
      request_timeout: duration({ default: 5000, min: 1, max: 300_000, description: 'How long one request may take before it counts as failed.' }),
      max_retries: int({ default: 3, min: 0, max: 100, description: 'Retries of a failed request before its events are dropped.' }),
      retry_backoff: duration({ default: 500, min: 1, max: 300_000, description: 'Wait before the first retry; doubles with each further one.' }),
      payload_encoding: oneOf({ default: 'plain', values: ['plain', 'base64'], description: 'How message payloads appear in bodies.' }),
    },
  },

  bridges: bridgesSchema,

  log: {
    level: oneOf({
      default: 'info',
      values: ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'],
      description:
        'Least severe level logged (EMQX/syslog names; `notice` logs as info, `critical` and above as fatal).',
    }),
    format: oneOf({
      default: 'auto',
      values: ['auto', 'json', 'text'],
      description: '`json`: one JSON object per line; `text`: human-readable; `auto`: text on a terminal, JSON otherwise.',
    }),
  },
} as const satisfies SchemaNode;

/** The loaded, validated configuration: durations in ms, sizes in bytes, binds parsed. */
export type VireoConfig = ConfigOf<typeof configSchema>;

/**
 * `cluster`: discovery strategies, the gRPC port peers use, and partition handling.
 */
import { isIP } from 'node:net';
import { isAddress, isHttpUrl } from '../config-values.js';
import { PROTOCOL_MIN, PROTOCOL_VERSION } from '@vireo/cluster';
import { bind, bool, bytesize, duration, int, list, num, oneOf, optionalStr, str, type SchemaNode } from '../schema-dsl.js';

export const clusterSchema = {
  discovery_strategy: oneOf({
    default: 'manual',
    values: ['manual', 'static', 'mcast', 'dns', 'etcd', 'k8s'],
    description:
      "How this node finds its peers: `manual` (no discovery: the node runs alone, with its cluster port open, until `vireo ctl cluster join` makes it join another node's cluster; the peers it joined are kept in `node.data_dir`/cluster.json and rejoined after a restart), `static` (seed list), `etcd` (nodes register under a prefix), `dns` (A, AAAA or SRV records), `k8s` (endpoints of a Service), `mcast` (UDP multicast announcements).",
  }),
  static: {
    seeds: list({
      default: [],
      item: 'address',
      description:
        "Peer cluster addresses `host:port` (their `cluster.rpc.bind` port) for the `static` strategy; this node's own address may be listed too. Retried every 2 s, so nodes may start in any order.",
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
        "How long the HTTP API waits for each other node's part of a cluster-wide answer (clients, subscriptions, kick, stats, metrics, trace). A node that does not answer in time is left out and named in the answer's `errors`.",
    }),
    max_frame_size: bytesize({
      default: 2 * 1024 * 1024,
      min: 512 * 1024,
      max: 256 * 1024 * 1024,
      description:
        'Largest gRPC message the cluster port takes from a peer, before the cookie handshake as after it (grpc-js sets it per server). Larger frames (a routes or retained snapshot) travel as sealed fragments of 256 KiB, so this only needs to hold one fragment; keep it small so that a stranger cannot make the node buffer much before it proved anything.',
    }),
    max_pending_bytes: bytesize({
      default: 16 * 1024 * 1024,
      min: 0,
      max: 16 * 1024 * 1024 * 1024,
      description:
        "Bytes written to one peer's stream that it has not read yet (a frozen, overloaded or far node: gRPC's flow control holds them here) past which forwarding to it waits: QoS 1/2 forwards are kept, numbered, and sent in order when the peer reads again (or again after a reconnect), within the unacknowledged-forward buffer of 10 000 messages / 16MB per peer; QoS 0 forwards are dropped and counted in `vireo_cluster_forward_dropped_total`. `0` = no bound (the stream buffers whatever the peer does not read). Vireo's; EMQX's gen_rpc has no such key.",
    }),
    protocol_max: int({
      default: PROTOCOL_VERSION,
      min: PROTOCOL_MIN,
      max: PROTOCOL_VERSION,
      description:
        'Newest peer protocol version this node offers in the cluster handshake (this release speaks 2 to 4; two nodes use the newest both accept, and refuse each other, naming both ranges, when their ranges do not meet). Lower it only to make a node talk to its peers as an earlier release would, for tests or to keep a node on the older protocol while you check an upgrade (docs/deployment.md, upgrade node by node).',
    }),
    protocol_min: int({
      default: PROTOCOL_MIN,
      min: PROTOCOL_MIN,
      max: PROTOCOL_VERSION,
      description:
        'Oldest peer protocol version this node accepts. Raise it once every node runs this release, so that a node of an earlier release (an old image, a restored backup) is refused rather than joining. At most `cluster.rpc.protocol_max`.',
    }),
    driver: oneOf({
      default: 'tcp',
      values: ['tcp', 'ssl'],
      description:
        "`ssl`: mutual TLS on the gRPC port (EMQX's `rpc.driver`): each node presents `certfile` and accepts only peers whose certificate chains to `cacertfile`, both ways; the cookie handshake still runs inside. Every node of a cluster must use the same driver.",
    }),
    certfile: optionalStr({
      default: undefined,
      docDefault: 'none',
      description:
        "With `driver = ssl`: PEM file with this node's certificate (and chain). It must name (SAN) the host peers dial: the `cluster.rpc.bind` host, or the host of `node.name`.",
    }),
    keyfile: optionalStr({ default: undefined, docDefault: 'none', description: 'With `driver = ssl`: PEM file with the private key of `certfile`.' }),
    cacertfile: optionalStr({
      default: undefined,
      docDefault: 'none',
      description: "With `driver = ssl`: PEM file with the CA certificates every peer's certificate must chain to.",
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
      description: "Key prefix under which nodes register in etcd: `<prefix>/nodes/<node.name>` = the node's cluster address.",
      check: (v) => (v.length > 0 ? undefined : 'a non-empty prefix'),
    }),
    node_ttl: duration({
      default: 60_000,
      min: 1000,
      max: 2 ** 31 - 1,
      description: "TTL of the etcd lease behind this node's key; the key vanishes this long after the node dies.",
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
      description: "DNS server to ask, `host:port`; empty asks the system's resolvers.",
      check: (v) => (v === '' || isAddress(v) ? undefined : 'empty or a host:port address'),
    }),
  },
  k8s: {
    apiserver: str({
      default: 'https://kubernetes.default.svc:443',
      description: "Kubernetes API server URL, for the `k8s` strategy (authenticated with the pod's service-account token).",
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
        "How peers are dialled: `ip` (pod IP), `dns` (`<ip-with-dashes>.<namespace>.pod.<suffix>`) or `hostname` (`<hostname>.<service>.<namespace>.svc.<suffix>`), always on this node's `cluster.rpc.bind` port.",
    }),
    suffix: str({
      default: 'cluster.local',
      description: "The cluster's DNS domain, for address types `dns` and `hostname`.",
      check: (v) => (v.length > 0 ? undefined : 'a DNS domain'),
    }),
    token_file: str({
      default: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      description: 'Service-account token sent to the API server (read again on every request: Kubernetes rotates it).',
    }),
    ca_file: str({
      default: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
      description: "CA certificate the API server's certificate is checked against.",
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
  rebalance: {
    auto: bool({
      default: false,
      description:
        'When this node joins a cluster (once per start, when it has a running peer), it starts a rebalance over every running node with the settings below: the nodes above the mean shed connections until within the thresholds (docs/deployment.md, rebalancing). Off: rebalance with `vireo ctl rebalance start` or the API.',
    }),
    wait_health_check: duration({
      default: 60_000,
      min: 0,
      max: 86_400_000,
      description:
        "Rebalances this node starts (automatic, API, `vireo ctl`) when the request does not say: how long donors fail `availability_check` before evicting, so load balancers stop sending them clients first (EMQX's `wait_health_check`).",
    }),
    conn_evict_rate: int({ default: 500, min: 1, max: 10_000_000, description: 'Default connections each donor disconnects per second (DISCONNECT 0x9C).' }),
    sess_evict_rate: int({ default: 500, min: 1, max: 10_000_000, description: 'Default offline sessions each donor hands to the recipients per second.' }),
    abs_conn_threshold: int({
      default: 1000,
      min: 1,
      max: 10_000_000,
      description: "Default absolute threshold: balanced when the donors' average connection count is at most this above the recipients'.",
    }),
    rel_conn_threshold: num({
      default: 1.1,
      min: 1,
      max: 1000,
      description: "Default relative threshold: balanced when the donors' average connection count is at most this times the recipients'.",
    }),
    abs_sess_threshold: int({ default: 1000, min: 1, max: 10_000_000, description: 'As `abs_conn_threshold`, for offline sessions.' }),
    rel_sess_threshold: num({ default: 1.1, min: 1, max: 1000, description: 'As `rel_conn_threshold`, for offline sessions.' }),
    wait_takeover: duration({
      default: 60_000,
      min: 0,
      max: 86_400_000,
      description: 'Default time given to evicted clients to reconnect elsewhere (taking their sessions along) before offline sessions are moved.',
    }),
  },
} as const satisfies SchemaNode;

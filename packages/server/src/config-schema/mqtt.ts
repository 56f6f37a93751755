/**
 * `mqtt`: protocol limits and session behaviour, with EMQX's key names.
 */
import { bool, bytesize, duration, int, num, oneOf, str, type SchemaNode } from '../schema-dsl.js';

const MAX_PACKET = 268_435_455; // the largest size MQTT's variable byte integer can encode

export const mqttSchema = {
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
  peer_cert_as_username: oneOf({
    default: 'disabled',
    values: ['disabled', 'cn', 'dn', 'crt', 'pem', 'md5'],
    description:
      "TLS listeners with client certificates: take the username from the certificate (EMQX's): its subject `cn`, its `dn` (`CN=…,O=…`), the DER in base64 (`crt`), the `pem`, or the `md5` of the DER in hex. Authentication and ACL rules then see that name, whatever the CONNECT said. A client without a certificate keeps its own.",
  }),
  peer_cert_as_clientid: oneOf({
    default: 'disabled',
    values: ['disabled', 'cn', 'dn', 'crt', 'pem', 'md5'],
    description: "The same for the client id: a device cannot take another's id (or session) without its certificate.",
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
  max_topic_alias_out: int({
    default: 64,
    min: 0,
    max: 65535,
    description:
      'Most topic aliases the broker uses when sending to one MQTT 5 client (also at most the Topic Alias Maximum in its CONNECT; least recently used reassigned); 0 always sends the full topic (Vireo addition; EMQX has no such key).',
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
    description: 'Keep alive, in seconds, imposed on MQTT 5 clients through CONNACK; `disabled` lets each client choose.',
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
    description: 'How long the session of a disconnected MQTT 3.x client without clean session is kept (v5 clients send their own).',
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
    description: 'Most messages queued per session while the inflight window is full or the client is offline; the oldest are dropped beyond.',
  }),
  max_mqueue_bytes: bytesize({
    default: 64 * 1024 * 1024,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    description:
      "Most payload + topic bytes queued per session (Vireo's; EMQX bounds the queue by length only); the oldest are dropped beyond (`queue_full`), a single message larger than this is dropped. `0` = unlimited. The default never binds before `max_mqueue_len` for payloads under 64KB; it caps one session's queue of 1MB messages at 64MB instead of 1GB.",
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
} as const satisfies SchemaNode;

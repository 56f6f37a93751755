/**
 * `bridges.mqtt.<name>`: MQTT bridges to other brokers, with EMQX 5's key names
 * (server, proto_ver, ingress.remote/local, egress.local/remote, `${field}` templates).
 */
import { isAddress } from '../config-values.js';
import { bool, bytesize, duration, int, named, oneOf, optionalStr, str, type SchemaNode } from '../schema-dsl.js';

const template = (field: string, what: string) =>
  str({
    default: `\${${field}}`,
    description: `${what}; a template: \`\${topic}\`, \`\${payload}\`, \`\${qos}\`, \`\${retain}\`, \`\${clientid}\` are replaced by the message's values.`,
  });

const mqttBridge = {
  enable: bool({ default: true, description: 'Run this bridge. `false` keeps its settings without connecting.' }),
  server: str({
    default: '',
    description: 'The remote broker, `host:port`. Required.',
    check: (v) => (v === '' || isAddress(v) ? undefined : 'host:port'),
  }),
  proto_ver: oneOf({ default: 'v4', values: ['v3', 'v4', 'v5'], description: 'MQTT version spoken to the remote broker: `v3` (3.1), `v4` (3.1.1), `v5`.' }),
  clientid_prefix: str({
    default: '',
    description:
      'Prefix of the client ids the bridge connects with: egress `<prefix><bridge name>:<node name>` (every node of a cluster has its own), an ingress-only bridge `<prefix><bridge name>:ingress` (one node at a time).',
  }),
  username: optionalStr({ default: undefined, docDefault: 'none', description: 'Username sent to the remote broker.' }),
  password: optionalStr({ default: undefined, docDefault: 'none', description: 'Password sent to the remote broker.' }),
  clean_start: bool({ default: true, description: 'Clean start (clean session in v3/v4) on the remote broker.' }),
  keepalive: duration({ default: 60_000, min: 1000, max: 65_535_000, description: "Keep alive of the bridge's connection." }),
  reconnect_interval: duration({ default: 5000, min: 100, max: 3_600_000, description: 'Wait before each reconnection attempt after the remote broker went away or refused.' }),
  max_inflight: int({ default: 32, min: 1, max: 65_535, description: 'Egress QoS 1/2 messages sent and not yet acknowledged by the remote broker.' }),
  resource_opts: {
    buffer_on_disk: bool({
      default: false,
      description:
        "Keep the egress buffer in `<node.data_dir>/bridges/<name>.buf` (a key of our own: EMQX's `volatile_offload` does not survive a restart): what was accepted is sent after a crash or restart (at least once); MQTT 5 properties are not kept.",
    }),
    max_buffer_bytes: bytesize({
      default: 256 * 1024 * 1024,
      min: 1024,
      max: 64 * 1024 * 1024 * 1024,
      description: 'Egress messages held while the remote broker is unreachable or slow (payload + topic bytes); past it, new messages are dropped and counted.',
    }),
  },
  ssl: {
    enable: bool({ default: false, description: 'Connect with TLS.' }),
    cacertfile: optionalStr({
      default: undefined,
      docDefault: 'none',
      description: "PEM CA certificates the remote broker's certificate is checked against (default: the system's).",
    }),
    certfile: optionalStr({ default: undefined, docDefault: 'none', description: 'PEM client certificate, for brokers that ask for one.' }),
    keyfile: optionalStr({ default: undefined, docDefault: 'none', description: 'PEM private key of `certfile`.' }),
    verify: oneOf({ default: 'verify_peer', values: ['verify_peer', 'verify_none'], description: '`verify_none` accepts any server certificate (tests only).' }),
    server_name_indication: optionalStr({ default: undefined, docDefault: "the server's host", description: 'Host name sent in SNI and checked against the certificate.' }),
  },
  ingress: {
    remote: {
      topic: str({
        default: '',
        description:
          'Filter subscribed on the remote broker; empty: no ingress. In a cluster exactly one node subscribes (chosen from the running nodes; another takes over when it goes), with the client id `<prefix><bridge name>:ingress` for an ingress-only bridge.',
      }),
      qos: int({ default: 1, min: 0, max: 2, description: 'QoS of that subscription.' }),
    },
    local: {
      topic: template('topic', 'Topic the message is published on locally'),
      qos: template('qos', 'QoS of the local publish'),
      retain: template('retain', 'Retain flag of the local publish'),
      payload: template('payload', 'Payload of the local publish'),
    },
  },
  egress: {
    local: {
      topic: str({
        default: '',
        description:
          "Local topic filter whose messages go to the remote broker; empty: no egress. Each message published on this node is sent once (the ingress's own messages never go back).",
      }),
    },
    remote: {
      topic: template('topic', 'Topic the message is published on at the remote broker'),
      qos: template('qos', 'QoS of the remote publish'),
      retain: template('retain', 'Retain flag of the remote publish'),
      payload: template('payload', 'Payload of the remote publish'),
    },
  },
} as const satisfies SchemaNode;

export const bridgesSchema = {
  mqtt: named({ description: 'MQTT bridges to other brokers, by name.', item: mqttBridge }),
} as const satisfies SchemaNode;

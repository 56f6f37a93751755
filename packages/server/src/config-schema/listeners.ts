/**
 * `listeners`: the MQTT listeners (TCP, WebSocket, TLS, secure WebSocket) with EMQX's `ssl_options`.
 */
import { bind, bool, duration, int, oneOf, optionalStr, str, type SchemaNode } from '../schema-dsl.js';
import { burst, rate } from './rate.js';

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
  ...limiters(what),
});

/** EMQX 5's listener limiters (docs/limits.md): past a rate, reads are paused; nothing is refused or dropped. */
export const limiters = (what: string) => ({
  max_conn_rate: rate({
    description: `New connections per interval the ${what} listener takes on (\`1000/s\`, \`10000/60m\`); connections past it wait unread, in arrival order (their CONNECT is answered later), counted in \`vireo_listener_conn_rate_limited_total\`.`,
  }),
  max_conn_burst: burst({ description: 'Connections allowed above `max_conn_rate` when it is spent, refilled at their own rate (`10000/60m`: up to 10 000 more per hour).' }),
  messages_rate: rate({
    description: `PUBLISH packets per interval each client of the ${what} listener may send (\`1000/s\`); past it the client's socket is not read until the rate allows (its TCP window closes), counted in \`vireo_client_rate_limited_total{kind="messages"}\`. Nothing is dropped.`,
  }),
  messages_burst: burst({ description: 'PUBLISH packets a client may send above `messages_rate` when it is spent, refilled at their own rate.' }),
  bytes_rate: rate({
    sizes: true,
    description: `Bytes per interval each client of the ${what} listener may send, every packet counted (\`1MB/s\`, 1024-based units); past it the client's socket is not read until the rate allows, counted in \`vireo_client_rate_limited_total{kind="bytes"}\`.`,
  }),
  bytes_burst: burst({ sizes: true, description: 'Bytes a client may send above `bytes_rate` when it is spent, refilled at their own rate (`100MB/60m`).' }),
});

/** EMQX's proxy_protocol keys, for the TCP and TLS listeners (behind a load balancer). */
const proxyProtocol = (what: string) => ({
  proxy_protocol: bool({
    default: false,
    description: `Each connection to the ${what} listener starts with a PROXY protocol header (v1 or v2, detected), as a load balancer sends it: its source address becomes the client's, for logs, ACL \`ipaddr\` rules and bans. Connections without a valid header are closed, so turn it on only behind a balancer that sends one.`,
  }),
  proxy_protocol_timeout: duration({ default: 3000, min: 100, max: 600_000, description: 'How long the PROXY header may take to arrive.' }),
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

export const listenersSchema = {
  tcp: { default: { ...listener(1883, 'MQTT over TCP'), ...proxyProtocol('MQTT over TCP') } },
  ws: {
    default: {
      ...listener(8083, 'MQTT over WebSocket'),
      websocket: { mqtt_path: mqttPath() },
    },
  },
  ssl: {
    default: {
      ...listener(8883, 'MQTT over TLS'),
      ...proxyProtocol('MQTT over TLS'),
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
} as const satisfies SchemaNode;

import os from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { DEFAULT_LOG_THROTTLE_WINDOW } from './node/log-throttle.js';
import type { ClusterLink } from './cluster.js';
import type { BrokerHooks } from './hooks.js';
import type { Rate } from './limits/rate.js';
import { MemoryStore, type BrokerStore } from './persistence/store.js';

/** How a shared subscription group picks the member that gets a message. */
export type SharedStrategy = 'random' | 'round_robin' | 'round_robin_per_group' | 'sticky' | 'hash_clientid' | 'hash_topic' | 'local';

/** Certificate material of a TLS listener (`ssl`, `wss`), already read from its files. */
export interface TlsListenerOptions {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** EMQX `verify = verify_peer`: ask for a client certificate and check it against `ca`. */
  verifyPeer: boolean;
  /** EMQX `fail_if_no_peer_cert`: with verifyPeer, refuse a client that sends none. */
  failIfNoPeerCert: boolean;
}

export interface ListenerOptions {
  /** `tcp`, `ws`, `ssl` (TLS) or `wss`; the name is the EMQX listener id, e.g. `tcp:default`. */
  type: 'tcp' | 'ws' | 'ssl' | 'wss';
  name: string;
  host: string;
  /** 0 disables the listener. */
  port: number;
  maxConnections: number;
  /** WebSocket path (ws, wss), default `/mqtt`. */
  path?: string;
  /** Required for `ssl` and `wss`. */
  tls?: TlsListenerOptions;
  /** `tcp`, `ssl`: each connection starts with a PROXY protocol v1 or v2 header (a load balancer's), whose source address becomes the client's. */
  proxyProtocol?: boolean;
  /** How long the header may take to arrive (ms, default 3000). */
  proxyProtocolTimeout?: number;
  /** EMQX `max_conn_rate` / `max_conn_burst`: connections past the rate wait, reads paused (docs/limits.md). Absent: no limit. */
  maxConnRate?: Rate;
  maxConnBurst?: Rate;
  /** Per client, EMQX `messages_rate` / `messages_burst`: PUBLISH packets past the rate wait, reads paused. Absent: no limit. */
  messagesRate?: Rate;
  messagesBurst?: Rate;
  /** Per client, EMQX `bytes_rate` / `bytes_burst`: the bytes of PUBLISH packets, likewise. Absent: no limit. */
  bytesRate?: Rate;
  bytesBurst?: Rate;
}

/** What of a TLS client certificate becomes the username or client id (EMQX's peer_cert_as_*). */
export type PeerCertAs = 'disabled' | 'cn' | 'dn' | 'crt' | 'pem' | 'md5';

/** MQTT behaviour; names mirror EMQX 5's `mqtt.*` keys. Durations are in milliseconds. */
export interface MqttOptions {
  idleTimeout: number;
  maxPacketSize: number;
  maxClientidLen: number;
  /** TLS listeners: take the username from the client certificate (absent: disabled). */
  peerCertAsUsername?: PeerCertAs;
  /** TLS listeners: take the client id from the client certificate (absent: disabled). */
  peerCertAsClientid?: PeerCertAs;
  maxTopicLevels: number;
  maxTopicLength: number;
  maxQosAllowed: 0 | 1 | 2;
  maxTopicAlias: number;
  /** Most topic aliases the broker uses towards one v5 client (also bounded by the client's Topic Alias Maximum); 0 = none. */
  maxTopicAliasOut: number;
  retainAvailable: boolean;
  /**
   * How often expired retained messages and expired queued messages are deleted in the
   * background, ms; 0 = never (EMQX's `retainer.msg_clear_interval`).
   */
  msgClearInterval: number;
  /** Most retained topics (`$SYS` ones aside); a new one past it is not stored; 0 = unlimited (EMQX's `retainer.backend.max_retained_messages`). */
  maxRetainedMessages: number;
  /** Largest retained payload stored, bytes; 0 = unlimited (EMQX's `retainer.max_payload_size`). */
  retainerMaxPayloadSize: number;
  wildcardSubscription: boolean;
  sharedSubscription: boolean;
  ignoreLoopDeliver: boolean;
  /** 0 = let the client choose; otherwise the server keep alive sent to v5 clients, in seconds. */
  serverKeepalive: number;
  keepaliveMultiplier: number;
  retryInterval: number;
  sessionExpiryInterval: number;
  maxAwaitingRel: number;
  awaitRelTimeout: number;
  maxMqueueLen: number;
  /** Most payload + topic bytes queued per session; the oldest are dropped beyond; 0 = unlimited. */
  maxMqueueBytes: number;
  mqueueStoreQos0: boolean;
  maxInflight: number;
  maxSubscriptions: number;
  upgradeQos: boolean;
  sharedSubscriptionStrategy: SharedStrategy;
  responseInformation: string;
}

export interface SysOptions {
  /** Interval of the `$SYS` broker heartbeat topics (uptime, datetime, counters) in ms; 0 disables. */
  sysMsgInterval: number;
  /** Publish `$SYS/brokers/{node}/clients/{clientid}/connected` (EMQX `sys_event_messages.client_connected`). */
  clientConnected: boolean;
  /** Publish `…/clients/{clientid}/disconnected` (EMQX `sys_event_messages.client_disconnected`). */
  clientDisconnected: boolean;
}

export interface BrokerOptions {
  nodeName: string;
  listeners: ListenerOptions[];
  mqtt: MqttOptions;
  sys: SysOptions;
  logger: Logger;
  hooks: BrokerHooks;
  /** Durable state (retained, persistent sessions); `MemoryStore` when unset. */
  store: BrokerStore;
  /** The rest of the cluster; a single node (`LocalCluster`) when unset. */
  cluster: ClusterLink | undefined;
  /** The only directory trace files are written to (`<data_dir>/trace`). */
  traceDir: string;
  /** EMQX's `log.throttling.time_window` (ms): per-message log lines (drops, denials) at most once per client and window. */
  logThrottleWindow: number;
  /** Open the MQTT listeners in `start` (else `listen()` does, once the rest of the node is up). */
  listen: boolean;
}

/** What `createBroker` accepts: everything optional, with EMQX's defaults. */
export interface BrokerConfig {
  nodeName?: string;
  listeners?: ListenerOptions[];
  mqtt?: Partial<MqttOptions>;
  sys?: Partial<SysOptions>;
  logger?: Logger;
  hooks?: BrokerHooks;
  /** Where retained messages and persistent sessions survive a restart (the store package); memory only when unset. */
  store?: BrokerStore;
  /** The rest of the cluster (the cluster package's implementation); a single node when unset. */
  cluster?: ClusterLink;
  /** Where trace files go; `./data/trace` when unset. */
  traceDir?: string;
  /** Per-message log lines (drops, denials) at most once per client and window, ms (EMQX's `log.throttling.time_window`, 1 min). */
  logThrottleWindow?: number;
  /** false: `createBroker` does not open the listeners; call `broker.listen()` when the rest of the application is ready. Default true. */
  listen?: boolean;
}

export const DEFAULT_MQTT: MqttOptions = {
  idleTimeout: 15_000,
  maxPacketSize: 1024 * 1024,
  maxClientidLen: 65535,
  peerCertAsUsername: 'disabled',
  peerCertAsClientid: 'disabled',
  maxTopicLevels: 128,
  maxTopicLength: 65535,
  maxQosAllowed: 2,
  maxTopicAlias: 65535,
  maxTopicAliasOut: 64,
  retainAvailable: true,
  msgClearInterval: 30_000,
  maxRetainedMessages: 0,
  retainerMaxPayloadSize: 1024 * 1024,
  wildcardSubscription: true,
  sharedSubscription: true,
  ignoreLoopDeliver: false,
  serverKeepalive: 0,
  keepaliveMultiplier: 1.5,
  retryInterval: 30_000,
  sessionExpiryInterval: 2 * 3600_000,
  maxAwaitingRel: 100,
  awaitRelTimeout: 300_000,
  maxMqueueLen: 1000,
  maxMqueueBytes: 64 * 1024 * 1024,
  mqueueStoreQos0: true,
  maxInflight: 32,
  maxSubscriptions: 0,
  upgradeQos: false,
  sharedSubscriptionStrategy: 'round_robin',
  responseInformation: '',
};

export const DEFAULT_SYS: SysOptions = { sysMsgInterval: 60_000, clientConnected: true, clientDisconnected: true };

/** Fills in every option `config` leaves out, with EMQX's defaults. */
export function resolveOptions(config: BrokerConfig = {}): BrokerOptions {
  const nodeName = config.nodeName ?? `vireo@${os.hostname()}`;
  return {
    nodeName,
    listeners: config.listeners ?? [
      { type: 'tcp', name: 'tcp:default', host: '0.0.0.0', port: 1883, maxConnections: 1_024_000 },
      { type: 'ws', name: 'ws:default', host: '0.0.0.0', port: 8083, maxConnections: 1_024_000, path: '/mqtt' },
    ],
    mqtt: { ...DEFAULT_MQTT, ...config.mqtt },
    sys: { ...DEFAULT_SYS, ...config.sys },
    logger: config.logger ?? pino({ base: { node: nodeName } }),
    hooks: { ...config.hooks },
    store: config.store ?? new MemoryStore(),
    cluster: config.cluster,
    traceDir: config.traceDir ?? path.resolve('data', 'trace'),
    logThrottleWindow: config.logThrottleWindow ?? DEFAULT_LOG_THROTTLE_WINDOW,
    listen: config.listen ?? true,
  };
}

/**
 * Translates the user-facing configuration (EMQX key names, parsed units) into the
 * broker's BrokerConfig. Kept apart from loading so the mapping reads as a table.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { BrokerConfig, ListenerOptions, Rate } from '@vireo/broker';
import type { VireoConfig } from './config-schema.js';
import { ConfigError } from './config-error.js';
import type { ConfigIssue } from './config-validate.js';
import { readTlsFiles } from './tls-files.js';

/**
 * Listener names follow EMQX (`tcp:default`); a bind with port 0 omits the listener, and so
 * does a TLS listener without certificate files (there is no built-in certificate to fall back on).
 */
function listeners(cfg: VireoConfig, logger: Logger): ListenerOptions[] {
  const out: ListenerOptions[] = [];
  const issues: ConfigIssue[] = [];
  const tcp = cfg.listeners.tcp.default;
  if (tcp.bind.port !== 0) {
    out.push({ type: 'tcp', name: 'tcp:default', host: tcp.bind.host, port: tcp.bind.port, maxConnections: tcp.max_connections, ...proxy(tcp), ...limits(tcp) });
  }
  const ws = cfg.listeners.ws.default;
  if (ws.bind.port !== 0) {
    out.push({
      type: 'ws',
      name: 'ws:default',
      host: ws.bind.host,
      port: ws.bind.port,
      maxConnections: ws.max_connections,
      path: ws.websocket.mqtt_path,
      ...limits(ws),
    });
  }
  const ssl = cfg.listeners.ssl.default;
  if (ssl.bind.port !== 0) {
    const tls = readTlsFiles('listeners.ssl.default', ssl.ssl_options, issues);
    if (tls) out.push({ type: 'ssl', name: 'ssl:default', host: ssl.bind.host, port: ssl.bind.port, maxConnections: ssl.max_connections, tls, ...proxy(ssl), ...limits(ssl) });
    else if (issues.length === 0) logger.info('listener ssl:default is off: set listeners.ssl.default.ssl_options.certfile and keyfile to start it');
  }
  const wss = cfg.listeners.wss.default;
  if (wss.bind.port !== 0) {
    const before = issues.length;
    const tls = readTlsFiles('listeners.wss.default', wss.ssl_options, issues);
    if (tls) {
      out.push({
        type: 'wss',
        name: 'wss:default',
        host: wss.bind.host,
        port: wss.bind.port,
        maxConnections: wss.max_connections,
        path: wss.websocket.mqtt_path,
        tls,
        ...limits(wss),
      });
    } else if (issues.length === before) logger.info('listener wss:default is off: set listeners.wss.default.ssl_options.certfile and keyfile to start it');
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

export function toBrokerConfig(cfg: VireoConfig, logger: Logger): BrokerConfig {
  const m = cfg.mqtt;
  const events = cfg.sys_topics.sys_event_messages;
  return {
    nodeName: cfg.node.name,
    traceDir: path.resolve(cfg.node.data_dir, 'trace'),
    // Always explicit, even when empty: the broker's default would otherwise start both listeners.
    listeners: listeners(cfg, logger),
    mqtt: {
      idleTimeout: m.idle_timeout,
      maxPacketSize: m.max_packet_size,
      maxClientidLen: m.max_clientid_len,
      peerCertAsUsername: m.peer_cert_as_username,
      peerCertAsClientid: m.peer_cert_as_clientid,
      maxTopicLevels: m.max_topic_levels,
      maxTopicLength: m.max_topic_length,
      maxQosAllowed: m.max_qos_allowed as 0 | 1 | 2, // the schema bounds it to 0..2
      maxTopicAlias: m.max_topic_alias,
      maxTopicAliasOut: m.max_topic_alias_out,
      retainAvailable: m.retain_available,
      wildcardSubscription: m.wildcard_subscription,
      sharedSubscription: m.shared_subscription,
      ignoreLoopDeliver: m.ignore_loop_deliver,
      serverKeepalive: m.server_keepalive,
      keepaliveMultiplier: m.keepalive_multiplier,
      retryInterval: m.retry_interval,
      sessionExpiryInterval: m.session_expiry_interval,
      maxAwaitingRel: m.max_awaiting_rel,
      awaitRelTimeout: m.await_rel_timeout,
      maxMqueueLen: m.max_mqueue_len,
      maxMqueueBytes: m.max_mqueue_bytes,
      mqueueStoreQos0: m.mqueue_store_qos0,
      maxInflight: m.max_inflight,
      maxSubscriptions: m.max_subscriptions,
      upgradeQos: m.upgrade_qos,
      sharedSubscriptionStrategy: m.shared_subscription_strategy,
      responseInformation: m.response_information,
      msgClearInterval: cfg.retainer.msg_clear_interval,
      maxRetainedMessages: cfg.retainer.backend.max_retained_messages,
      retainerMaxPayloadSize: cfg.retainer.max_payload_size,
    },
    sys: {
      sysMsgInterval: cfg.sys_topics.sys_msg_interval,
      clientConnected: events.client_connected,
      clientDisconnected: events.client_disconnected,
    },
    logger,
    logThrottleWindow: cfg.log.throttling.time_window,
  };
}

/** EMQX's proxy_protocol keys of a TCP or TLS listener (only when on, so the broker's options stay as they were). */
type ListenerRates = Record<'max_conn_rate' | 'max_conn_burst' | 'messages_rate' | 'messages_burst' | 'bytes_rate' | 'bytes_burst', Rate | null>;

/** The listener limiters (docs/limits.md); `infinity` leaves a key out, so the broker adds nothing for it. */
function limits(l: ListenerRates): Pick<ListenerOptions, 'maxConnRate' | 'maxConnBurst' | 'messagesRate' | 'messagesBurst' | 'bytesRate' | 'bytesBurst'> {
  const out: Pick<ListenerOptions, 'maxConnRate' | 'maxConnBurst' | 'messagesRate' | 'messagesBurst' | 'bytesRate' | 'bytesBurst'> = {};
  if (l.max_conn_rate) out.maxConnRate = l.max_conn_rate;
  if (l.max_conn_burst) out.maxConnBurst = l.max_conn_burst;
  if (l.messages_rate) out.messagesRate = l.messages_rate;
  if (l.messages_burst) out.messagesBurst = l.messages_burst;
  if (l.bytes_rate) out.bytesRate = l.bytes_rate;
  if (l.bytes_burst) out.bytesBurst = l.bytes_burst;
  return out;
}

function proxy(l: { proxy_protocol: boolean; proxy_protocol_timeout: number }): { proxyProtocol?: true; proxyProtocolTimeout?: number } {
  return l.proxy_protocol ? { proxyProtocol: true, proxyProtocolTimeout: l.proxy_protocol_timeout } : {};
}

import type { ClientRegistry } from '../cm/registry.js';
import type { MqttOptions } from '../options.js';
import type { Session } from '../session/session.js';
import type { SubOptions } from '../subscription.js';
import { splitPeer } from '../peer.js';

/**
 * A client as operators see it (the fields of EMQX's `GET /clients`): a plain snapshot
 * built on request from the channel and session, never kept up to date on the hot path.
 */
export interface ClientView {
  clientid: string;
  username: string | null;
  node: string;
  connected: boolean;
  ip_address: string | null;
  port: number | null;
  listener: string | null;
  proto_name: string | null;
  proto_ver: number | null;
  keepalive: number | null;
  clean_start: boolean;
  expiry_interval: number;
  created_at: string;
  connected_at: string | null;
  subscriptions_cnt: number;
  inflight_cnt: number;
  inflight_max: number;
  mqueue_len: number;
  mqueue_max: number;
  awaiting_rel_cnt: number;
  awaiting_rel_max: number;
  recv_oct: number;
  send_oct: number;
}

export interface SubscriptionView {
  clientid: string;
  node: string;
  /** As subscribed, `$share/…` prefix included. */
  topic: string;
  qos: 0 | 1 | 2;
  nl: 0 | 1;
  rap: 0 | 1;
  rh: 0 | 1 | 2;
}

/** Where the views are read from: the node's name, limits and client tables. */
export interface ViewSource {
  nodeName: string;
  mqtt: MqttOptions;
  registry: ClientRegistry;
}

export function clientView(src: ViewSource, clientId: string): ClientView | undefined {
  const session = src.registry.sessions.get(clientId);
  if (!session) return undefined;
  const ch = src.registry.channels.get(clientId);
  const opts = src.mqtt;
  const peer = ch ? splitPeer(ch.peer) : undefined;
  return {
    clientid: clientId,
    username: ch?.username ?? null,
    node: src.nodeName,
    connected: ch !== undefined,
    ip_address: peer?.ip ?? null,
    port: peer?.port ?? null,
    listener: ch?.listener ?? null,
    proto_name: ch ? (ch.protocolVersion === 3 ? 'MQIsdp' : 'MQTT') : null,
    proto_ver: ch?.protocolVersion ?? null,
    keepalive: ch?.keepalive ?? null,
    clean_start: session.expiryInterval === 0,
    expiry_interval: session.expiryInterval,
    created_at: new Date(session.createdAt).toISOString(),
    connected_at: ch ? new Date(ch.connectedAt).toISOString() : null,
    subscriptions_cnt: session.subscriptions.size,
    inflight_cnt: session.inflight.size,
    inflight_max: opts.maxInflight,
    mqueue_len: session.mqueue.length,
    mqueue_max: opts.maxMqueueLen,
    awaiting_rel_cnt: session.awaitingRel.size,
    awaiting_rel_max: opts.maxAwaitingRel,
    recv_oct: ch?.bytesIn ?? 0,
    send_oct: ch?.bytesOut ?? 0,
  };
}

/** Every session on this node (connected or not), as views. */
export function* clientViews(src: ViewSource): IterableIterator<ClientView> {
  for (const id of src.registry.sessions.keys()) {
    const v = clientView(src, id);
    if (v) yield v;
  }
}

export function subscriptionViews(nodeName: string, session: Session): SubscriptionView[] {
  const out: SubscriptionView[] = [];
  for (const [topic, o] of session.subscriptions) out.push(subscriptionView(nodeName, session.clientId, topic, o));
  return out;
}

function subscriptionView(nodeName: string, clientid: string, topic: string, o: SubOptions): SubscriptionView {
  return { clientid, node: nodeName, topic, qos: o.qos, nl: o.nl ? 1 : 0, rap: o.rap ? 1 : 0, rh: o.rh };
}

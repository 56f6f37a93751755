/**
 * What a rule's FROM can name, and each event's fields with EMQX 5's names, so a rule
 * written for EMQX reads the same values here. Fields are built only for an event some
 * rule wants, after the broker's call has returned (engine.ts).
 */
import { hostOf, type ClientInfo, type ConnackInfo, type Message, type MessageProperties, type SubOptions } from '@vireo/broker';
import { RC } from '@vireo/mqtt';

/** Event names as `event` carries them (EMQX), by their FROM topic. */
export const EVENT_TOPICS = {
  '$events/client_connected': 'client.connected',
  '$events/client_disconnected': 'client.disconnected',
  '$events/client_connack': 'client.connack',
  '$events/session_subscribed': 'session.subscribed',
  '$events/session_unsubscribed': 'session.unsubscribed',
  '$events/message_delivered': 'message.delivered',
  '$events/message_acked': 'message.acked',
  '$events/message_dropped': 'message.dropped',
  '$events/delivery_dropped': 'delivery.dropped',
} as const;

export type EventTopic = keyof typeof EVENT_TOPICS;
export type EventName = (typeof EVENT_TOPICS)[EventTopic] | 'message.publish';
export type Fields = Record<string, unknown>;

export const isEventTopic = (t: string): t is EventTopic => Object.hasOwn(EVENT_TOPICS, t);

/** Who published or receives a message, looked up on this node when the event happened. */
export interface ClientFacts {
  username: string | null;
  peerhost: string | null;
}

const REASON_NAMES = new Map<number, string>(Object.entries(RC).map(([k, v]) => [v, k.toLowerCase()]));
REASON_NAMES.set(0, 'success');

/** EMQX's MQTT 5 property names (`User-Property` as a map, `User-Property-Pairs` in order). */
export function pubProps(p: MessageProperties | undefined): Fields {
  if (!p) return {};
  const out: Fields = {};
  if (p.payloadFormatIndicator !== undefined) out['Payload-Format-Indicator'] = p.payloadFormatIndicator ? 1 : 0;
  if (p.messageExpiryInterval !== undefined) out['Message-Expiry-Interval'] = p.messageExpiryInterval;
  if (p.contentType !== undefined) out['Content-Type'] = p.contentType;
  if (p.responseTopic !== undefined) out['Response-Topic'] = p.responseTopic;
  if (p.correlationData !== undefined) out['Correlation-Data'] = p.correlationData.toString('utf8');
  if (p.userProperties) {
    const map: Record<string, string> = {};
    const pairs: { key: string; value: string }[] = [];
    for (const [key, v] of Object.entries(p.userProperties)) {
      for (const value of Array.isArray(v) ? v : [v]) {
        map[key] = value;
        pairs.push({ key, value });
      }
    }
    out['User-Property'] = map;
    out['User-Property-Pairs'] = pairs;
  }
  return out;
}

function messageFields(node: string, m: Message): Fields {
  return {
    id: m.id.toString(16).padStart(16, '0'),
    payload: m.payload.toString('utf8'),
    topic: m.topic,
    qos: m.qos,
    flags: { retain: m.retain, dup: false },
    pub_props: pubProps(m.properties),
    publish_received_at: m.timestamp,
    node,
  };
}

/** One object literal (no spread): this is built for every message a rule's FROM matches. */
export function messagePublish(node: string, m: Message, from: ClientFacts): Fields {
  return {
    event: 'message.publish',
    id: m.id.toString(16).padStart(16, '0'),
    payload: m.payload.toString('utf8'),
    topic: m.topic,
    qos: m.qos,
    flags: { retain: m.retain, dup: false },
    pub_props: m.properties ? pubProps(m.properties) : EMPTY,
    publish_received_at: m.timestamp,
    node,
    clientid: m.from,
    username: from.username,
    peerhost: from.peerhost,
    timestamp: m.timestamp,
  };
}

const EMPTY: Fields = Object.freeze({}) as Fields;

/** message_delivered / message_acked / delivery_dropped: to `clientId`, from the publisher. */
export function messageTo(event: EventName, node: string, clientId: string, m: Message, to: ClientFacts, from: ClientFacts, reason?: string): Fields {
  return {
    event,
    ...messageFields(node, m),
    ...(reason !== undefined ? { reason } : {}),
    from_clientid: m.from,
    from_username: from.username,
    clientid: clientId,
    username: to.username,
    peerhost: to.peerhost,
    timestamp: Date.now(),
  };
}

export function messageDropped(node: string, m: Message, reason: string, from: ClientFacts): Fields {
  return { event: 'message.dropped', ...messageFields(node, m), reason, clientid: m.from, username: from.username, peerhost: from.peerhost, timestamp: Date.now() };
}

function client(node: string, event: EventName, c: ClientInfo): Fields {
  return {
    event,
    clientid: c.clientId,
    username: c.username ?? null,
    peername: c.peer,
    peerhost: hostOf(c.peer),
    proto_name: 'MQTT',
    proto_ver: c.protocolVersion,
    node,
    timestamp: Date.now(),
  };
}

export interface ConnectionFacts {
  keepalive: number;
  cleanStart: boolean;
  expiryInterval: number;
  connProps: Fields;
  connectedAt: number;
}

export function clientConnected(node: string, c: ClientInfo, f: ConnectionFacts): Fields {
  return {
    ...client(node, 'client.connected', c),
    mountpoint: null,
    keepalive: f.keepalive,
    clean_start: f.cleanStart,
    expiry_interval: f.expiryInterval,
    is_bridge: false,
    conn_props: f.connProps,
    connected_at: f.connectedAt,
  };
}

export function clientDisconnected(node: string, c: ClientInfo, reason: string): Fields {
  const now = Date.now();
  return { ...client(node, 'client.disconnected', c), reason, disconnected_at: now, disconn_props: {} };
}

export function clientConnack(node: string, c: ConnackInfo): Fields {
  return {
    ...client(node, 'client.connack', c),
    reason_code: REASON_NAMES.get(c.reasonCode) ?? `unknown_0x${c.reasonCode.toString(16)}`,
    keepalive: c.keepalive,
    clean_start: c.cleanStart,
    expiry_interval: c.expiryInterval,
    conn_props: c.connProps ?? {},
  };
}

export function sessionSubscribed(node: string, c: ClientInfo, topic: string, o: SubOptions): Fields {
  return { ...client(node, 'session.subscribed', c), topic, qos: o.qos, sub_props: o.subId ? { 'Subscription-Identifier': o.subId } : {} };
}

export function sessionUnsubscribed(node: string, c: ClientInfo, topic: string): Fields {
  return { ...client(node, 'session.unsubscribed', c), topic, unsub_props: {} };
}

/**
 * Broker events as webhook bodies, with the field names of EMQX's webhook (`action`,
 * `clientid`, `from_client_id`, …) so receivers written for EMQX read them unchanged.
 */
import { RC } from '@vireo/mqtt';
import { hostOf, type ClientInfo, type ConnackInfo, type Message, type SubOptions } from '@vireo/broker';

export type WebhookEvent =
  | 'client.connack'
  | 'client.connected'
  | 'client.disconnected'
  | 'session.subscribed'
  | 'session.unsubscribed'
  | 'message.publish'
  | 'message.delivered'
  | 'message.acked'
  | 'message.dropped';

export const WEBHOOK_EVENTS: readonly WebhookEvent[] = [
  'client.connack',
  'client.connected',
  'client.disconnected',
  'session.subscribed',
  'session.unsubscribed',
  'message.publish',
  'message.delivered',
  'message.acked',
  'message.dropped',
];

export type Body = Record<string, unknown>;
/** The username of a client connected to this node (null: none, or not connected here). */
export type UsernameOf = (clientId: string) => string | null;
export type PayloadEncoding = 'plain' | 'base64';

/** EMQX's reason names (`success`, `not_authorized`, …): the RC constant in lower case. */
const REASON_NAMES = new Map<number, string>(Object.entries(RC).map(([k, v]) => [v, k.toLowerCase()]));
REASON_NAMES.set(0, 'success');

export function reasonName(rc: number): string {
  return REASON_NAMES.get(rc) ?? `unknown_0x${rc.toString(16)}`;
}

export function clientConnack(node: string, c: ConnackInfo): Body {
  const name = reasonName(c.reasonCode);
  return {
    action: 'client_connack',
    node,
    clientid: c.clientId,
    username: c.username ?? null,
    ipaddress: hostOf(c.peer),
    peername: c.peer,
    proto_ver: c.protocolVersion,
    keepalive: c.keepalive,
    clean_start: c.cleanStart,
    expiry_interval: c.expiryInterval,
    // EMQX 4's webhook says conn_ack, EMQX 5's rule events reason_code: both, same value
    conn_ack: name,
    reason_code: name,
    conn_props: c.connProps ?? {},
    timestamp: Date.now(),
  };
}

export function clientConnected(node: string, c: ClientInfo, keepalive: number): Body {
  return {
    action: 'client_connected',
    node,
    clientid: c.clientId,
    username: c.username ?? null,
    ipaddress: hostOf(c.peer),
    proto_ver: c.protocolVersion,
    keepalive,
    connected_at: Date.now(),
  };
}

export function clientDisconnected(node: string, c: ClientInfo, reason: string): Body {
  return { action: 'client_disconnected', node, clientid: c.clientId, username: c.username ?? null, reason, disconnected_at: Date.now() };
}

export function sessionSubscribed(node: string, c: ClientInfo, topic: string, o: SubOptions): Body {
  return { action: 'session_subscribed', node, clientid: c.clientId, username: c.username ?? null, topic, opts: { qos: o.qos, nl: o.nl ? 1 : 0, rap: o.rap ? 1 : 0, rh: o.rh } };
}

export function sessionUnsubscribed(node: string, c: ClientInfo, topic: string): Body {
  return { action: 'session_unsubscribed', node, clientid: c.clientId, username: c.username ?? null, topic };
}

function message(m: Message, enc: PayloadEncoding, user: UsernameOf): Body {
  return {
    id: m.id,
    from_client_id: m.from,
    // EMQX 5's rule-event spelling of the same field
    from_clientid: m.from,
    from_username: m.from ? user(m.from) : null,
    topic: m.topic,
    qos: m.qos,
    retain: m.retain,
    payload: enc === 'base64' ? m.payload.toString('base64') : m.payload.toString('utf8'),
    ts: m.timestamp,
  };
}

export function messagePublish(node: string, m: Message, enc: PayloadEncoding, user: UsernameOf): Body {
  return { action: 'message_publish', node, ...message(m, enc, user) };
}

export function messageDelivered(node: string, clientId: string, m: Message, enc: PayloadEncoding, user: UsernameOf): Body {
  return { action: 'message_delivered', node, clientid: clientId, username: user(clientId), ...message(m, enc, user) };
}

export function messageAcked(node: string, clientId: string, m: Message, enc: PayloadEncoding, user: UsernameOf): Body {
  return { action: 'message_acked', node, clientid: clientId, username: user(clientId), ...message(m, enc, user) };
}

export function messageDropped(node: string, m: Message, reason: string, enc: PayloadEncoding, user: UsernameOf): Body {
  return { action: 'message_dropped', node, reason, ...message(m, enc, user) };
}

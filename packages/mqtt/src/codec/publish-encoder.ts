import type { IPublishPacket } from 'mqtt-packet';
import { encode } from './encode.js';

/**
 * The message side of a PUBLISH to encode. The bytes are cached per variant: the first variant
 * encoded in `encodedKey`/`encodedOne` (most messages have one subscriber, or subscribers of
 * one variant: no array), any other in `encoded`.
 */
export interface EncodableMessage {
  topic: string;
  payload: Buffer;
  properties: IPublishPacket['properties'] | undefined;
  /** Absolute expiry in ms since the epoch; 0 = never (v5 sends the remaining interval). */
  expiresAt: number;
  encodedKey?: number;
  encodedOne?: Buffer | undefined;
  encoded?: (Buffer | undefined)[] | undefined;
}

/** One subscriber's copy: the QoS, retain flag and subscription identifiers it gets. */
export interface EncodableDelivery {
  msg: EncodableMessage;
  qos: 0 | 1 | 2;
  retain: boolean;
  subIds: number[] | undefined;
}

/**
 * Payloads of at least this many bytes are not copied into each subscriber's packet: the
 * subscriber gets its own header (`encodePublishHead`) and the message's payload Buffer is
 * written after it, shared by every subscriber; the connection hands chunks of this size to
 * the socket without joining them (transport/connection.ts). Below it, one copy per packet
 * costs less than a second chunk to write.
 */
export const SHARED_PAYLOAD_MIN = 8192;

const OPTS_V5 = { protocolVersion: 5 };
const EMPTY = Buffer.alloc(0);
/** Cache slot offset of the header-only variants (encodePublishHead). */
const HEAD = 16;

/**
 * Encodes a whole PUBLISH for one subscriber. The bytes for a (protocol, QoS, retain) variant
 * are made once per message and shared by every subscriber that gets the same variant; only
 * the packet id (and DUP bit) is patched into a copy. A topic alias (`alias` > 0, v5 only;
 * `withTopic` false when the client already knows it) and per-subscriber properties
 * (subscription identifiers, a shrinking message expiry) make the packet this subscriber's
 * own: encoded alone.
 */
export function encodePublish(d: EncodableDelivery, pid: number, dup: boolean, v5: boolean, now: number, alias = 0, withTopic = true): Buffer {
  return build(d, pid, dup, v5, now, alias, withTopic, false);
}

/**
 * The same PUBLISH without its payload: fixed header (whose remaining length counts the
 * payload), topic or alias, packet id, properties. The packet on the wire is this header
 * followed by `d.msg.payload`, written unchanged, so a large payload sent to many
 * subscribers is never copied per subscriber.
 */
export function encodePublishHead(d: EncodableDelivery, pid: number, dup: boolean, v5: boolean, now: number, alias = 0, withTopic = true): Buffer {
  return build(d, pid, dup, v5, now, alias, withTopic, true);
}

/**
 * Whether this delivery should go as header + shared payload: a large payload, and a packet
 * that is not one buffer shared by all subscribers anyway (QoS 0 of the same variant is).
 */
export function payloadApart(d: EncodableDelivery, v5: boolean, alias: number): boolean {
  return d.msg.payload.length >= SHARED_PAYLOAD_MIN && (d.qos !== 0 || alias !== 0 || isPersonal(d, v5));
}

function isPersonal(d: EncodableDelivery, v5: boolean): boolean {
  return v5 && (d.subIds !== undefined || d.msg.expiresAt !== 0);
}

function build(d: EncodableDelivery, pid: number, dup: boolean, v5: boolean, now: number, alias: number, withTopic: boolean, head: boolean): Buffer {
  const msg = d.msg;
  let buf: Buffer;
  if (alias !== 0 || isPersonal(d, v5)) {
    buf =
      v5 && (msg.properties !== undefined || d.subIds !== undefined || msg.expiresAt !== 0)
        ? viaPacket(d, pid || 1, now, alias, withTopic, head)
        : plainPublish(msg, d.qos, d.retain, pid || 1, v5, alias, withTopic, head);
  } else {
    const key = (v5 ? 1 : 0) | (d.qos << 1) | (d.retain ? 8 : 0) | (head ? HEAD : 0);
    const cached = msg.encodedKey === key ? msg.encodedOne : msg.encoded?.[key];
    if (cached === undefined) {
      // the first subscriber of a variant gets the bytes with its own packet id; later ones patch a copy
      buf = v5 && msg.properties !== undefined ? viaPacket(d, pid || 1, now, 0, true, head) : plainPublish(msg, d.qos, d.retain, pid || 1, v5, 0, true, head);
      if (msg.encodedOne === undefined) {
        msg.encodedKey = key;
        msg.encodedOne = buf;
      } else (msg.encoded ??= [])[key] = buf;
      if (!dup) return buf;
      buf = Buffer.from(buf);
    } else {
      if (d.qos === 0 && !dup) return cached;
      buf = Buffer.from(cached);
    }
  }
  if (d.qos > 0) {
    const at = pidOffset(buf);
    buf[at] = pid >> 8;
    buf[at + 1] = pid & 0xff;
  }
  if (dup) buf[0] |= 0x08;
  return buf;
}

/**
 * A PUBLISH whose only property can be a topic alias, written directly (the common case:
 * 3.1.1, or v5 with no message properties): fixed header, topic (empty when the alias stands
 * for it), packet id for QoS > 0, v5's property list, payload unless `head`.
 */
function plainPublish(msg: EncodableMessage, qos: 0 | 1 | 2, retain: boolean, pid: number, v5: boolean, alias: number, withTopic: boolean, head: boolean): Buffer {
  const topicLen = withTopic ? Buffer.byteLength(msg.topic) : 0;
  const payload = msg.payload;
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + (v5 ? (alias !== 0 ? 4 : 1) : 0) + payload.length;
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining - (head ? payload.length : 0));
  buf[0] = 0x30 | (qos << 1) | (retain ? 1 : 0);
  let i = writeVarint(buf, 1, remaining);
  buf[i++] = topicLen >> 8;
  buf[i++] = topicLen & 0xff;
  if (topicLen > 0) i += buf.write(msg.topic, i);
  if (qos > 0) {
    buf[i++] = pid >> 8;
    buf[i++] = pid & 0xff;
  }
  if (v5) {
    if (alias !== 0) {
      // property length 3: Topic Alias (0x23), two bytes
      buf[i++] = 3;
      buf[i++] = 0x23;
      buf[i++] = alias >> 8;
      buf[i++] = alias & 0xff;
    } else buf[i++] = 0;
  }
  if (!head) payload.copy(buf, i);
  return buf;
}

/**
 * A v5 PUBLISH with properties, encoded by mqtt-packet without its payload (so the payload
 * is copied at most once, here, or not at all for `head`); the remaining length is then
 * rewritten to count the payload.
 */
function viaPacket(d: EncodableDelivery, pid: number, now: number, alias: number, withTopic: boolean, head: boolean): Buffer {
  const bare = encode(packetFor(d, pid, now, alias, withTopic), OPTS_V5);
  let start = 1;
  while (bare[start] & 0x80) start++;
  start++;
  const payload = d.msg.payload;
  const variable = bare.length - start;
  const remaining = variable + payload.length;
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + variable + (head ? 0 : payload.length));
  buf[0] = bare[0];
  let i = writeVarint(buf, 1, remaining);
  i += bare.copy(buf, i, start);
  if (!head) payload.copy(buf, i);
  return buf;
}

function packetFor(d: EncodableDelivery, pid: number, now: number, alias: number, withTopic: boolean): IPublishPacket {
  const msg = d.msg;
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: withTopic ? msg.topic : '',
    payload: EMPTY,
    qos: d.qos,
    retain: d.retain,
    dup: false,
  };
  if (d.qos > 0) packet.messageId = pid;
  const props: NonNullable<IPublishPacket['properties']> = msg.properties ? { ...msg.properties } : {};
  if (alias !== 0) props.topicAlias = alias;
  if (msg.expiresAt !== 0) props.messageExpiryInterval = Math.max(0, Math.ceil((msg.expiresAt - now) / 1000));
  if (d.subIds) props.subscriptionIdentifier = d.subIds.length === 1 ? d.subIds[0] : d.subIds;
  if (Object.keys(props).length > 0) packet.properties = props;
  return packet;
}

/** Bytes of MQTT's variable byte integer for `n` (a Remaining Length: 1–4). */
export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Writes MQTT's variable byte integer at `i`; returns the offset after it. */
function writeVarint(buf: Buffer, i: number, n: number): number {
  do {
    const b = n % 128;
    n = Math.floor(n / 128);
    buf[i++] = n > 0 ? b | 0x80 : b;
  } while (n > 0);
  return i;
}

/** Offset of the packet id: after the fixed header (1 byte + varint length) and the topic. */
function pidOffset(buf: Buffer): number {
  let i = 1;
  while (buf[i] & 0x80) i++;
  i++;
  const topicLen = (buf[i] << 8) | buf[i + 1];
  return i + 2 + topicLen;
}

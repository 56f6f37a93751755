import type { IPublishPacket } from 'mqtt-packet';
import { encode } from './encode.js';

/** The message side of a PUBLISH to encode; `encoded` caches the bytes per variant. */
export interface EncodableMessage {
  topic: string;
  payload: Buffer;
  properties: IPublishPacket['properties'] | undefined;
  /** Absolute expiry in ms since the epoch; 0 = never (v5 sends the remaining interval). */
  expiresAt: number;
  encoded?: (Buffer | undefined)[];
}

/** One subscriber's copy: the QoS, retain flag and subscription identifiers it gets. */
export interface EncodableDelivery {
  msg: EncodableMessage;
  qos: 0 | 1 | 2;
  retain: boolean;
  subIds: number[] | undefined;
}

const OPTS_V5 = { protocolVersion: 5 };

/**
 * Encodes a PUBLISH for one subscriber. The bytes for a (protocol, QoS, retain) variant are
 * made once per message and shared by every subscriber that gets the same variant; only the
 * packet id (and DUP bit) is patched into a copy. Per-subscriber properties (subscription
 * identifiers, a shrinking message expiry) take the slow path and are encoded alone.
 */
export function encodePublish(d: EncodableDelivery, pid: number, dup: boolean, v5: boolean, now: number): Buffer {
  const msg = d.msg;
  const personal = v5 && (d.subIds !== undefined || msg.expiresAt !== 0);
  let buf: Buffer;
  if (personal) {
    buf = encode(packetFor(d, pid || 1, v5, now), OPTS_V5);
  } else {
    const key = (v5 ? 1 : 0) | (d.qos << 1) | (d.retain ? 8 : 0);
    const cache = (msg.encoded ??= []);
    const cached = cache[key];
    if (cached === undefined) {
      // the first subscriber of a variant gets the bytes with its own packet id; later ones patch a copy
      buf = v5 && msg.properties !== undefined ? encode(packetFor(d, pid || 1, v5, now), OPTS_V5) : plainPublish(msg, d.qos, d.retain, pid || 1, v5);
      cache[key] = buf;
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
 * A PUBLISH without properties, written directly (the common case: 3.1.1, or v5 with none):
 * fixed header, topic, packet id for QoS > 0, v5's empty property list, payload.
 */
function plainPublish(msg: EncodableMessage, qos: 0 | 1 | 2, retain: boolean, pid: number, v5: boolean): Buffer {
  const topicLen = Buffer.byteLength(msg.topic);
  const payload = msg.payload;
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + payload.length;
  const lenBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const buf = Buffer.allocUnsafe(1 + lenBytes + remaining);
  buf[0] = 0x30 | (qos << 1) | (retain ? 1 : 0);
  let i = 1;
  let n = remaining;
  do {
    const b = n % 128;
    n = Math.floor(n / 128);
    buf[i++] = n > 0 ? b | 0x80 : b;
  } while (n > 0);
  buf[i++] = topicLen >> 8;
  buf[i++] = topicLen & 0xff;
  i += buf.write(msg.topic, i);
  if (qos > 0) {
    buf[i++] = pid >> 8;
    buf[i++] = pid & 0xff;
  }
  if (v5) buf[i++] = 0;
  payload.copy(buf, i);
  return buf;
}

function packetFor(d: EncodableDelivery, pid: number, v5: boolean, now: number): IPublishPacket {
  const msg = d.msg;
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: msg.topic,
    payload: msg.payload,
    qos: d.qos,
    retain: d.retain,
    dup: false,
  };
  if (d.qos > 0) packet.messageId = pid;
  if (v5) {
    const props: NonNullable<IPublishPacket['properties']> = msg.properties ? { ...msg.properties } : {};
    if (msg.expiresAt !== 0) props.messageExpiryInterval = Math.max(0, Math.ceil((msg.expiresAt - now) / 1000));
    if (d.subIds) props.subscriptionIdentifier = d.subIds.length === 1 ? d.subIds[0] : d.subIds;
    if (Object.keys(props).length > 0) packet.properties = props;
  }
  return packet;
}

/** Offset of the packet id: after the fixed header (1 byte + varint length) and the topic. */
function pidOffset(buf: Buffer): number {
  let i = 1;
  while (buf[i] & 0x80) i++;
  i++;
  const topicLen = (buf[i] << 8) | buf[i + 1];
  return i + 2 + topicLen;
}

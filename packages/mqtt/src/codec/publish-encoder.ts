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

const OPTS_V4 = { protocolVersion: 4 };
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
      buf = encode(packetFor(d, pid || 1, v5, now), v5 ? OPTS_V5 : OPTS_V4);
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

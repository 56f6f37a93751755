/**
 * Messages and deliveries as bytes: one layout for the store's rows and for sessions that
 * move between nodes (session.ts). Written straight into a ByteWriter on the broker's thread:
 * no intermediate object, no structured clone. docs/architecture.md, "The record encoding".
 *
 * Layout, little-endian; `str` is a u32 byte length and UTF-8, `bytes` a u32 length and bytes:
 *   message:  u8 1 | u8 qos | retain << 2 | hasProps << 3 | f64 timestamp | f64 expiresAt
 *             | str topic | str from | [props] | bytes payload
 *   delivery: u8 2 | u8 qos | retain << 2 | hasShare << 3 | hasSubIds << 4
 *             | [u32 n, u32 × n subIds] | [str share] | message
 *   props:    u8 which (bits below) | [u32 expiry] | [str contentType] | [str responseTopic]
 *             | [bytes correlationData] | [str userProperties as JSON]
 * The leading tag is the record's kind and layout version: a changed layout takes a new tag.
 */
import type { Message, MessageProperties } from '../message.js';
import type { Delivery } from '../session/types.js';
import { ByteReader, ByteWriter } from './bytes.js';

export const MESSAGE_V1 = 1;
export const DELIVERY_V1 = 2;

const P_PFI = 1;
const P_PFI_TRUE = 2;
const P_EXPIRY = 4;
const P_CONTENT_TYPE = 8;
const P_RESPONSE_TOPIC = 16;
const P_CORRELATION = 32;
const P_USER = 64;

export function writeMessage(w: ByteWriter, m: Message): void {
  const p = m.properties;
  w.u8(MESSAGE_V1);
  w.u8(m.qos | (m.retain ? 4 : 0) | (p ? 8 : 0));
  w.f64(m.timestamp);
  w.f64(m.expiresAt);
  w.str(m.topic);
  w.str(m.from);
  if (p) writeProperties(w, p);
  w.bytes(m.payload);
}

function writeProperties(w: ByteWriter, p: MessageProperties): void {
  const which =
    (p.payloadFormatIndicator !== undefined ? P_PFI | (p.payloadFormatIndicator ? P_PFI_TRUE : 0) : 0) |
    (p.messageExpiryInterval !== undefined ? P_EXPIRY : 0) |
    (p.contentType !== undefined ? P_CONTENT_TYPE : 0) |
    (p.responseTopic !== undefined ? P_RESPONSE_TOPIC : 0) |
    (p.correlationData !== undefined ? P_CORRELATION : 0) |
    (p.userProperties !== undefined ? P_USER : 0);
  w.u8(which);
  if (which & P_EXPIRY) w.u32(p.messageExpiryInterval!);
  if (which & P_CONTENT_TYPE) w.str(p.contentType!);
  if (which & P_RESPONSE_TOPIC) w.str(p.responseTopic!);
  if (which & P_CORRELATION) w.bytes(p.correlationData!);
  if (which & P_USER) w.str(JSON.stringify(p.userProperties));
}

export function writeDelivery(w: ByteWriter, d: Delivery): void {
  w.u8(DELIVERY_V1);
  w.u8(d.qos | (d.retain ? 4 : 0) | (d.share !== undefined ? 8 : 0) | (d.subIds !== undefined ? 16 : 0));
  if (d.subIds !== undefined) {
    w.u32(d.subIds.length);
    for (const id of d.subIds) w.u32(id);
  }
  if (d.share !== undefined) w.str(d.share);
  writeMessage(w, d.msg);
}

export function readMessage(r: ByteReader, id: number): Message {
  const tag = r.u8();
  if (tag !== MESSAGE_V1) throw new Error(`not a message record (tag ${tag})`);
  const flags = r.u8();
  const timestamp = r.f64();
  const expiresAt = r.f64();
  const topic = r.str();
  const from = r.str();
  const properties = flags & 8 ? readProperties(r) : undefined;
  const payload = r.bytes();
  return { id, topic, payload, qos: (flags & 3) as 0 | 1 | 2, retain: (flags & 4) !== 0, properties, from, timestamp, expiresAt };
}

function readProperties(r: ByteReader): MessageProperties {
  const which = r.u8();
  const p: MessageProperties = {};
  if (which & P_PFI) p.payloadFormatIndicator = (which & P_PFI_TRUE) !== 0;
  if (which & P_EXPIRY) p.messageExpiryInterval = r.u32();
  if (which & P_CONTENT_TYPE) p.contentType = r.str();
  if (which & P_RESPONSE_TOPIC) p.responseTopic = r.str();
  if (which & P_CORRELATION) p.correlationData = r.bytes();
  if (which & P_USER) p.userProperties = JSON.parse(r.str()) as MessageProperties['userProperties'];
  return p;
}

export function readDelivery(r: ByteReader): Delivery {
  const tag = r.u8();
  if (tag !== DELIVERY_V1) throw new Error(`not a delivery record (tag ${tag})`);
  const flags = r.u8();
  let subIds: number[] | undefined;
  if (flags & 16) {
    const n = r.u32();
    subIds = [];
    for (let i = 0; i < n; i++) subIds.push(r.u32());
  }
  const share = flags & 8 ? r.str() : undefined;
  const msg = readMessage(r, 0);
  return { msg, qos: (flags & 3) as 0 | 1 | 2, retain: (flags & 4) !== 0, subIds, share };
}

export function encodeMessageRecord(msg: Message): Buffer {
  const w = new ByteWriter(64 + msg.payload.length);
  writeMessage(w, msg);
  return w.copy();
}

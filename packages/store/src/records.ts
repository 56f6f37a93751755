/**
 * How messages and sessions are laid out in the database: V8's serializer (Node's own
 * structured clone), which keeps Buffers, nested properties and `undefined` as they were.
 */
import { serialize, deserialize } from 'node:v8';
import type { Delivery, Message, PersistedSession } from '@vireo/broker';

/** A stored message: everything but the node-local id and the cached encodings. */
type MessageRecord = Omit<Message, 'id' | 'encoded'>;

export function encodeMessage(msg: Message): Buffer {
  const rec: MessageRecord = {
    topic: msg.topic,
    payload: msg.payload,
    qos: msg.qos,
    retain: msg.retain,
    properties: msg.properties,
    from: msg.from,
    timestamp: msg.timestamp,
    expiresAt: msg.expiresAt,
  };
  return serialize(rec);
}

export function decodeMessage(buf: Buffer, id: number): Message {
  const rec = deserialize(buf) as MessageRecord;
  return { ...rec, id };
}

export function encodeSession(s: PersistedSession): Buffer {
  return serialize(s);
}

export function decodeSession(buf: Buffer): PersistedSession {
  return deserialize(buf) as PersistedSession;
}

/** A held message: the message and what its subscription decided for it. */
export interface DeliveryRecord {
  msg: MessageRecord;
  qos: 0 | 1 | 2;
  retain: boolean;
  subIds: number[] | undefined;
  share: string | undefined;
}

/** The plain value of a delivery (what crosses to the writer thread; it serialises it there). */
export function deliveryRecord(d: Delivery): DeliveryRecord {
  const m = d.msg;
  return {
    msg: { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, properties: m.properties, from: m.from, timestamp: m.timestamp, expiresAt: m.expiresAt },
    qos: d.qos,
    retain: d.retain,
    subIds: d.subIds,
    share: d.share,
  };
}

/** Runs on the writer thread, where the Buffers arrived as plain Uint8Arrays (postMessage drops the Buffer class). */
export function encodeDeliveryRecord(rec: DeliveryRecord): Buffer {
  rec.msg.payload = asBuffer(rec.msg.payload);
  const cd = rec.msg.properties?.correlationData;
  if (cd) rec.msg.properties!.correlationData = asBuffer(cd);
  return serialize(rec);
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function decodeDelivery(buf: Buffer): Delivery {
  const rec = deserialize(buf) as DeliveryRecord;
  return { msg: { ...rec.msg, id: 0 }, qos: rec.qos, retain: rec.retain, subIds: rec.subIds, share: rec.share };
}

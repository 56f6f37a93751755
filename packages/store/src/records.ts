/**
 * How messages and sessions are laid out in the database: the shared, versioned record
 * encoding of @vireo/broker (docs/architecture.md, "The record encoding"). Messages and held
 * messages are written straight into a batch on the broker's thread. Rows written by earlier
 * versions with V8's serializer (first byte 0xFF) still read.
 */
import { deserialize } from 'node:v8';
import {
  ByteReader,
  decodeSessionRow,
  decodeSubOptionsRecord,
  encodeMessageRecord,
  encodeSessionRow,
  encodeSubOptionsRecord,
  readDelivery,
  readMessage,
  type Delivery,
  type Message,
  type PersistedSession,
  type SubOptions,
} from '@vireo/broker';

export { writeDelivery, writeMessage } from '@vireo/broker';

/** First byte of V8's serializer format (rows of earlier versions). */
const V8_FORMAT = 0xff;

/** A stored message (retained, will): everything but the node-local id, which the caller gives. */
export function decodeMessage(buf: Buffer, id: number): Message {
  if (buf[0] === V8_FORMAT) return { ...(deserialize(buf) as Omit<Message, 'id'>), id };
  return readMessage(new ByteReader(buf), id);
}

export function encodeMessage(msg: Message): Buffer {
  return encodeMessageRecord(msg);
}

export function decodeDelivery(buf: Buffer): Delivery {
  if (buf[0] === V8_FORMAT) {
    const rec = deserialize(buf) as Omit<Delivery, 'msg'> & { msg: Omit<Message, 'id'> };
    return { msg: { ...rec.msg, id: 0 }, qos: rec.qos, retain: rec.retain, subIds: rec.subIds, share: rec.share };
  }
  return readDelivery(new ByteReader(buf));
}

/** A session's row: everything but its subscriptions, which have rows of their own. */
export function encodeSession(s: Omit<PersistedSession, 'subscriptions'>): Buffer {
  return encodeSessionRow({ clientId: s.clientId, createdAt: s.createdAt, expiryInterval: s.expiryInterval, expiresAt: s.expiresAt, subscriptions: [] });
}

export function encodeSubOptions(o: SubOptions): Buffer {
  return encodeSubOptionsRecord(o);
}

export function decodeSubOptions(buf: Buffer): SubOptions {
  return decodeSubOptionsRecord(buf);
}

export function decodeSession(buf: Buffer): PersistedSession {
  return decodeSessionRow(buf);
}

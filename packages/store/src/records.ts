/**
 * How messages and sessions are laid out in the database: V8's serializer (Node's own
 * structured clone), which keeps Buffers, nested properties and `undefined` as they were.
 */
import { serialize, deserialize } from 'node:v8';
import type { Message, PersistedSession } from '@vireo/broker';

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

import type { IPublishPacket, UserProperties } from '@vireo/mqtt';

/** PUBLISH properties that travel with a message from publisher to subscribers (MQTT 5 §3.3.2.3). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

/** One application message as the broker routes it. A plain value: it can be stored or sent to another node. */
export interface Message {
  /** Unique within this node's lifetime; lets a receiver drop duplicates. */
  id: number;
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: MessageProperties | undefined;
  /** Publisher's clientid ('' for the broker itself). */
  from: string;
  /** Milliseconds since the epoch when the broker received it. */
  timestamp: number;
  /** Absolute expiry in ms since the epoch; 0 = never. */
  expiresAt: number;
  /**
   * Set when it came from another node: the node it was published on ('' when that node did
   * not say: an earlier release) and its `id` there. Tells copies of one message apart from
   * two identical publishes when a session moves between nodes (cm/takeover.ts).
   */
  origin?: string;
  originId?: number;
  /** Wall-clock ms (fractional) when a sampled message entered this node (delivery-latency.ts); not part of the value. */
  sampledAt?: number;
  /** Encoded PUBLISH bytes (publish-encoder.ts), filled lazily on delivery: the first variant (protocol/qos/retain) and its key, the others by key. Not part of the value. */
  encodedKey?: number;
  encodedOne?: Buffer | undefined;
  encoded?: (Buffer | undefined)[] | undefined;
}

/** A copy of a message without its cached encodings (a new value: its bytes are encoded again). */
export function withoutEncodings<M extends Message>(msg: M): M {
  return { ...msg, encodedKey: undefined, encodedOne: undefined, encoded: undefined };
}

let nextId = 1;

export function newMessageId(): number {
  return nextId++;
}

export function messageFromPublish(packet: IPublishPacket, topic: string, from: string, now: number): Message {
  const props = packet.properties;
  let properties: MessageProperties | undefined;
  let expiresAt = 0;
  if (props) {
    // topicAlias and subscriptionIdentifier are per-hop, never forwarded
    properties = {};
    if (props.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = props.payloadFormatIndicator;
    if (props.messageExpiryInterval !== undefined) {
      properties.messageExpiryInterval = props.messageExpiryInterval;
      expiresAt = now + props.messageExpiryInterval * 1000;
    }
    if (props.contentType !== undefined) properties.contentType = props.contentType;
    if (props.responseTopic !== undefined) properties.responseTopic = props.responseTopic;
    if (props.correlationData !== undefined) properties.correlationData = props.correlationData;
    if (props.userProperties !== undefined) properties.userProperties = props.userProperties;
  }
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  // every field the delivery path sets is here from the start: one object shape, no property store added later
  return {
    id: nextId++,
    topic,
    payload,
    qos: packet.qos,
    retain: packet.retain,
    properties,
    from,
    timestamp: now,
    expiresAt,
    sampledAt: undefined,
    encodedKey: -1,
    encodedOne: undefined,
    encoded: undefined,
  };
}

export function isExpired(msg: Message, now: number): boolean {
  return msg.expiresAt !== 0 && msg.expiresAt <= now;
}

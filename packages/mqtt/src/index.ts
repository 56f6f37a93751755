export { topicNameError, topicFilterError, isWildcard, parseSharedFilter, topicMatches } from './topic.js';
export type { TopicLimits, SharedFilter } from './topic.js';
export { SubscriptionTrie } from './trie.js';
export type { TrieVisitor } from './trie.js';
export { RC, CONNACK_V4, connackCodeV4 } from './reason-codes.js';
export type { ReasonCode } from './reason-codes.js';
export { encode } from './codec/encode.js';
export { encodePublish, encodePublishHead, payloadApart, SHARED_PAYLOAD_MIN, varintSize } from './codec/publish-encoder.js';
export type { EncodableDelivery, EncodableMessage } from './codec/publish-encoder.js';
export { FrameParser } from './codec/frame-parser.js';
export type { FrameSink } from './codec/frame-parser.js';
export { strictParser, frameBytes, setParserProtocol, announcedLength, ProtocolViolation } from './codec/strict-parser.js';
// mqtt-packet's packet types, so the packages above need not import mqtt-packet themselves
export type { Packet, Parser, IConnackPacket, IConnectPacket, IDisconnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket, UserProperties } from 'mqtt-packet';

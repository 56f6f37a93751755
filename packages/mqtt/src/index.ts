export { topicNameError, topicFilterError, isWildcard, parseSharedFilter, topicMatches } from './topic.js';
export type { TopicLimits, SharedFilter } from './topic.js';
export { SubscriptionTrie } from './trie.js';
export type { TrieVisitor } from './trie.js';
export { RC, CONNACK_V4, connackCodeV4 } from './reason-codes.js';
export type { ReasonCode } from './reason-codes.js';

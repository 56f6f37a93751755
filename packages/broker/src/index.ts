// The public API of @vireo/broker: what embedders and the other packages use (docs/embedding.md,
// docs/architecture.md). Everything else is internal to the package.

// embedding: start a node, publish, listen to events
export { createBroker, Broker, ListenError } from './broker.js';
export type { BrokerEvents, DisconnectReason, PublishRequest } from './events.js';
export type { PeerCertAs } from './options.js';
export type { BrokerConfig, ListenerOptions, TlsListenerOptions, MqttOptions, SharedStrategy } from './options.js';
export { DEFAULT_MQTT, DEFAULT_SYS } from './options.js';
export type { BrokerHooks, ClientInfo, ConnackInfo, AuthenticateRequest, AuthResult, AuthorizeAction } from './hooks.js';
export type { Message, MessageProperties } from './message.js';
export { newMessageId, withoutEncodings } from './message.js';
export type { SubOptions } from './subscription.js';
export { VERSION } from './version.js';

// what the query API returns (admin, bridges)
export type { Session } from './session/session.js';
export type { SessionState, Delivery, DropReason } from './session/types.js';
export type { ConnectedClient } from './channel/context.js';
export type { ClientView, SubscriptionView } from './node/client-view.js';
export type { TraceInfo, TraceType } from './trace.js';
export { MAX_TRACES, TRACE_NAME, MAX_TRACE_BYTES, TraceError } from './trace.js';
export { Histogram } from './node/histogram.js';
export { warmUp } from './node/warm-up.js';
export type { WarmUpResult } from './node/warm-up.js';
export type { HistogramView } from './node/histogram.js';
export type { PacketType } from './node/stats.js';
export { hostOf } from './peer.js';
export { GuardState, DEFAULT_FORCE_SHUTDOWN } from './guard/guard-state.js';
export type { ForceShutdownOptions, ForceShutdownReason } from './guard/guard-state.js';
export { parseRate, formatRate } from './limits/rate.js';
export { parseDuration, formatDuration, parseByteSize, formatByteSize } from './units.js';
export type { Rate } from './limits/rate.js';
export type { ListenerRates } from './limits/listener-rates.js';
export type { ClientLimitCounters } from './limits/counters.js';

// the seams other packages implement: the cluster and the store
export type { AdminCallHandler, ClusterHost, ClusterLink } from './cluster.js';
export { AdminCallError } from './cluster.js';
export type { ClusterPeerStats } from './node/cluster-stats.js';
export type { BrokerStore, DeliveryState, PersistedSession, StoredDelivery, StoredState } from './persistence/store.js';
export { MemoryStore } from './persistence/store.js';

// the record tables access control and traces keep (the store implements them)
export type { RecordTable, RecordTables } from './record-table.js';
export { keepTraces } from './trace-store.js';

// the versioned record encoding the store and the cluster share (docs/architecture.md)
export * from './encoding/index.js';

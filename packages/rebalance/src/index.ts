// @vireo/rebalance: node evacuation and the eviction primitives rebalancing builds on
// (docs/evacuation.md, docs/architecture.md).
export { NodeLoad } from './node-load.js';
export { evictConnections, type EvictConnectionsOptions } from './connection-evictor.js';
export { pushSessions, movableSessions, recipients, type PushSessionsOptions, type PushResult } from './session-pusher.js';
export { Evacuation, EVACUATION_DEFAULTS, EVACUATION_STATES, type EvacuationOptions, type EvacuationState, type EvacuationStatus, type EvacuationTotals } from './evacuation.js';
export { LoadRebalance, RebalanceError, type NodeRebalanceStatus } from './load-rebalance.js';

// @vireo/rebalance: node evacuation and the eviction primitives rebalancing builds on
// (docs/evacuation.md, docs/architecture.md).
export { NodeLoad } from './node-load.js';
export { evictConnections, type EvictConnectionsOptions } from './connection-evictor.js';
export { pushSessions, movableSessions, recipients, type PushSessionsOptions, type PushResult } from './session-pusher.js';
export { Evacuation, EVACUATION_DEFAULTS, EVACUATION_STATES, type EvacuationOptions, type EvacuationState, type EvacuationStatus, type EvacuationTotals } from './evacuation.js';
export { LoadRebalance, RebalanceError, type NodeRebalanceStatus } from './load-rebalance.js';
export { EvacuationFile } from './evacuation-file.js';
// rebalancing (docs/deployment.md#rebalancing): the coordinator, the donor agent and the admin operations between them
export { REBALANCE_DEFAULTS, type NodeCounts, type RebalanceOpts } from './rebalance-plan.js';
export { RebalanceCoordinator, type CoordinatorStatus, type DonorControl, type RebalanceState, type StartResult } from './rebalance-coordinator.js';
export { RebalanceAgent, type DonorStatus } from './rebalance-agent.js';
export { REBALANCE_OP_SCHEMAS, donorControl, rebalanceOps, rebalanceStartProps, rebalanceStartApiProps, type NodeCall, type RebalanceParticipation } from './rebalance-ops.js';
export { WAIT_SCHEMA, waitSeconds, waitsInSeconds } from './wait-durations.js';

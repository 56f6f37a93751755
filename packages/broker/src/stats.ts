/** Plain counters, incremented inline on the hot path and read when someone asks. */
export class Stats {
  packetsIn = 0;
  packetsOut = 0;
  msgIn = 0;
  msgOut = 0;
  msgDropped = 0;
  readonly droppedBy = new Map<string, number>();
  authSuccess = 0;
  authFailure = 0;
  aclDenied = 0;
  connected = 0;
  disconnected = 0;
  takeovers = 0;
  discards = 0;
  kicks = 0;
  connectionsMax = 0;
}

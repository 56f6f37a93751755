/** Throttling counted for Prometheus (`vireo_client_rate_limited_total{kind}`). */
export interface ClientLimitCounters {
  /** Times a client's reads were paused by `messages_rate` (one per pause, not per packet). */
  messages: number;
  /** Times a client's reads were paused by `bytes_rate`. */
  bytes: number;
}

export function newClientLimitCounters(): ClientLimitCounters {
  return { messages: 0, bytes: 0 };
}

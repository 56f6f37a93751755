/**
 * What keeps the node alive under load, as the hot path reads it: EMQX's
 * `overload_protection` (a flag the overload monitor sets from a timer, so a CONNECT or a
 * QoS 0 delivery reads one boolean) and `force_shutdown` (limits on what one client may have
 * waiting for its socket, write-backlog.ts). The counters feed the metrics.
 */

/** `force_shutdown`: 0 turns a limit off. */
export interface ForceShutdownOptions {
  /** EMQX's `max_mailbox_size`: messages and packets for a client that arrive while over 1 MB waits for its socket (write-backlog.ts). */
  maxPackets: number;
  /** EMQX's `max_heap_size`: bytes written to a client that its socket has not taken. */
  maxBytes: number;
}

/** EMQX's defaults: on, 1 000 packets, 32 MB. */
export const DEFAULT_FORCE_SHUTDOWN: ForceShutdownOptions = { maxPackets: 1000, maxBytes: 32 * 1024 * 1024 };

export type ForceShutdownReason = 'mailbox_overflow' | 'proc_heap_too_big';

export class GuardState {
  /** Set by the overload monitor while the node is overloaded. */
  overloaded = false;
  /** While overloaded: refuse new CONNECTs with 0x89 Server busy (EMQX's `backoff_new_conn`), else delay them. */
  refuseNewConn = true;
  /** While overloaded and not refusing: ms a new CONNECT waits before it is handled (EMQX's `backoff_delay`). */
  newConnDelayMs = 0;
  /** While overloaded: QoS 0 to a client with more than this many bytes waiting for its socket is shed. */
  shedQos0Backlog = 64 * 1024;
  /** Undefined: force_shutdown is off. */
  forceShutdown: ForceShutdownOptions | undefined = DEFAULT_FORCE_SHUTDOWN;

  refusedConnects = 0;
  delayedConnects = 0;
  shedMessages = 0;
  readonly forceShutdowns: Record<ForceShutdownReason, number> = { mailbox_overflow: 0, proc_heap_too_big: 0 };
}

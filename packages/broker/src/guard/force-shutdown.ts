/** `force_shutdown` and overload shedding as a channel applies them. */
import { RC } from '@vireo/mqtt';
import { QOS0_BACKLOG_LIMIT } from '../channel/send.js';
import type { ChannelState } from '../channel/state.js';
import type { ForceShutdownReason } from './guard-state.js';
import { WriteBacklog } from './write-backlog.js';

/**
 * Watches the channel's write backlog. Made for every connection, force_shutdown on or off,
 * so that turning it on or changing its limits while the node runs reaches the clients
 * already connected; it reads the limits at each check and only a flush that leaves bytes in
 * the socket calls it.
 */
export function guardBacklog(ch: ChannelState): void {
  ch.conn.backlogGuard = new WriteBacklog(ch.ctx.guard, QOS0_BACKLOG_LIMIT, (reason, mailbox, bytes) => forceShutdown(ch, reason, mailbox, bytes));
}

/**
 * The client cannot keep up and its backlog is eating the node's memory: disconnect it
 * (v5: DISCONNECT 0x97 Quota exceeded, if it ever reads it) and free the socket's buffer at
 * once. Its session stays as for any disconnect (a persistent one keeps queuing within
 * `max_mqueue_len`). Deferred: the flush that found it may be inside a delivery loop.
 */
function forceShutdown(ch: ChannelState, reason: ForceShutdownReason, mailbox: number, bytes: number): void {
  queueMicrotask(() => {
    if (ch.conn.closed) return;
    const g = ch.ctx.guard;
    g.forceShutdowns[reason]++;
    ch.ctx.logger.warn(
      {
        clientid: ch.clientId,
        peer: ch.peer,
        reason,
        mailbox_size: mailbox,
        pending_bytes: bytes,
        max_mailbox_size: g.forceShutdown?.maxPackets,
        max_heap_size: g.forceShutdown?.maxBytes,
      },
      'force_shutdown',
    );
    ch.close(reason, RC.QUOTA_EXCEEDED);
    ch.conn.socket.destroy();
  });
}

/** While the node is overloaded, QoS 0 to a client with a backlog is shed first (counted). */
export function shedQos0(ch: ChannelState): boolean {
  const g = ch.ctx.guard;
  if (!g.overloaded || ch.conn.backlog <= g.shedQos0Backlog) return false;
  g.shedMessages++;
  return true;
}

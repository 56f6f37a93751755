import type { Packet } from '@vireo/mqtt';
import { PAUSE_HOLD, resumeReads } from '../limits/read-gate.js';
import type { ChannelState } from './state.js';

/**
 * Ends an async step (an async authorizer): runs its continuation, then the packets that
 * arrived meanwhile, in order — unless another async step starts, which keeps the rest.
 */
export function resumeAfter(ch: ChannelState, fn: () => void): void {
  const queued = ch.pendingPackets ?? [];
  ch.pendingPackets = undefined;
  if (ch.conn.closed) return;
  fn();
  for (let i = 0; i < queued.length; i++) {
    if (ch.conn.closed) return;
    if (ch.pendingPackets) {
      // another async step started: keep the rest behind it
      (ch.pendingPackets as Packet[]).push(...queued.slice(i));
      return;
    }
    ch.onPacket(queued[i]);
  }
  if (!ch.pendingPackets) resumeReads(ch.conn, PAUSE_HOLD);
}

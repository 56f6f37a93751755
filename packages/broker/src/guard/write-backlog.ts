/**
 * `force_shutdown` for one connection: how many packets and bytes written to the client its
 * socket has not taken yet (our queue is flushed; this is the socket's own buffer, which grows
 * without bound when the client stops reading). Only a flush that leaves bytes behind calls
 * it, so a client that keeps up costs nothing. Each such flush is remembered (its end offset
 * and packet count) until the kernel has taken its bytes; a chunk partly taken still counts.
 */
import type { ForceShutdownOptions, ForceShutdownReason } from './guard-state.js';

export class WriteBacklog {
  /** Pairs: cumulative bytes at the end of a flushed chunk, packets in it. */
  private marks: number[] = [];
  private pendingPackets = 0;
  private tripped = false;

  constructor(
    private readonly limits: ForceShutdownOptions,
    private readonly overflow: (reason: ForceShutdownReason, packets: number, bytes: number) => void,
  ) {}

  /**
   * After a flush of `len` bytes holding `packets` packets; `sent` is every byte flushed so
   * far (this chunk included), `pending` the bytes the socket still holds.
   */
  flushed(len: number, packets: number, sent: number, pending: number): void {
    const m = this.marks;
    // an earlier flush that left nothing behind: every chunk before this one was taken
    if (m.length > 0 && m[m.length - 2] !== sent - len) {
      m.length = 0;
      this.pendingPackets = 0;
    }
    m.push(sent, packets);
    this.pendingPackets += packets;
    const taken = sent - pending;
    let i = 0;
    while (i < m.length && m[i]! <= taken) {
      this.pendingPackets -= m[i + 1]!;
      i += 2;
    }
    if (i > 0) m.splice(0, i);
    if (this.tripped) return;
    const { maxPackets, maxBytes } = this.limits;
    const reason: ForceShutdownReason | undefined =
      maxPackets > 0 && this.pendingPackets > maxPackets ? 'mailbox_overflow' : maxBytes > 0 && pending > maxBytes ? 'proc_heap_too_big' : undefined;
    if (reason) {
      this.tripped = true;
      this.overflow(reason, this.pendingPackets, pending);
    }
  }
}

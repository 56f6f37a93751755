/**
 * `force_shutdown` for one connection. EMQX's connection process blocks when the socket's
 * buffer is over its high watermark, and what arrives for the client meanwhile piles up in
 * its mailbox; `max_mailbox_size` bounds that pile. Here nothing blocks: past the same 1 MB
 * of backlog (`watermark`: send.ts QOS0_BACKLOG_LIMIT) QoS 0 messages are dropped and anything else is
 * written on. The "mailbox" is what arrived for the client while it was over that watermark
 * — messages dropped for it and packets written to it — counted until its backlog is back
 * under the watermark. `max_heap_size` bounds the backlog's bytes. Only a flush that leaves
 * bytes in the socket, or a QoS 0 drop, calls this: a client that keeps up costs nothing.
 */
import type { ForceShutdownOptions, ForceShutdownReason } from './guard-state.js';

export class WriteBacklog {
  /** Messages and packets that arrived while the backlog was over the watermark. */
  private mailbox = 0;
  private tripped = false;

  constructor(
    /** Read at each check: a change of `force_shutdown` (the HTTP API) reaches existing connections. */
    private readonly guard: { readonly forceShutdown: ForceShutdownOptions | undefined },
    /** Bytes waiting over which QoS 0 is dropped (given: importing channel/ here would close a circle through transport/). */
    private readonly watermark: number,
    private readonly overflow: (reason: ForceShutdownReason, mailbox: number, bytes: number) => void,
  ) {}

  /** After a flush of `len` bytes holding `packets` packets; `pending`: the bytes the socket still holds (> 0). */
  flushed(len: number, packets: number, pending: number): void {
    // under the watermark (or everything before this flush was taken): the client keeps up
    if (pending <= this.watermark || pending <= len) this.mailbox = 0;
    else this.mailbox += packets;
    this.check(pending);
  }

  /** A QoS 0 message dropped because the backlog is over the watermark. */
  dropped(pending: number): void {
    this.mailbox++;
    this.check(pending);
  }

  private check(pending: number): void {
    const limits = this.guard.forceShutdown;
    if (this.tripped || limits === undefined) return;
    const { maxPackets, maxBytes } = limits;
    const reason: ForceShutdownReason | undefined =
      maxPackets > 0 && this.mailbox > maxPackets ? 'mailbox_overflow' : maxBytes > 0 && pending > maxBytes ? 'proc_heap_too_big' : undefined;
    if (reason) {
      this.tripped = true;
      this.overflow(reason, this.mailbox, pending);
    }
  }
}

/**
 * Acknowledged forwarding of QoS 1 and 2 messages between nodes.
 *
 * A forward frame holding QoS 1/2 messages is numbered (this process's epoch, then a
 * sequence per destination) and its QoS 1/2 messages are kept until the destination
 * acknowledges the number (cumulatively, on its own stream back). When the link to that
 * node goes down and comes back — a cut network, a frozen node — the kept frames are sent
 * again, and the receiver skips numbers it already applied, so a message is delivered
 * once even when only the acknowledgement was lost. QoS 0 messages are never kept.
 *
 * A frame can also be numbered and kept without being sent (`held`): the link is up but the
 * peer is not reading (its stream past `cluster.rpc.max_pending_bytes`). Held frames go out,
 * in order, when the stream drains (`takeHeld`) or the link comes back (`resend`).
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Frame, WireMsg } from './wire.js';

/** What one destination may hold unacknowledged; beyond it the oldest frames go. */
const MAX_MSGS = 10_000;
const MAX_BYTES = 16 << 20;

interface Kept {
  seq: number;
  msgs: WireMsg[];
  bytes: number;
  /** performance.now() when it was numbered (sent, or queued for a link that was down). */
  at: number;
  /** Numbered but not yet written: the peer's stream was congested. */
  held: boolean;
}

interface Outstanding {
  seq: number;
  frames: Kept[];
  msgs: number;
  bytes: number;
  /** Messages dropped because the buffer was full, since the last report. */
  dropped: number;
  /** Frames of `frames` with `held` set (always the last ones). */
  held: number;
}

export interface ForwardBody {
  msgs: WireMsg[];
  epoch?: number;
  seq?: number;
}

export class ForwardAcks {
  /** This process's incarnation: a restarted sender starts numbering again. */
  readonly epoch = randomInt(1, 2 ** 47);
  private readonly out = new Map<string, Outstanding>();
  /** Receiver side: the last frame applied from each origin node. */
  private readonly applied = new Map<string, { epoch: number; seq: number }>();
  private readonly toAck = new Set<string>();
  /** Called per acknowledged frame with the ms from sending it to its acknowledgement (peer-stats.ts). */
  onRoundTrip: ((node: string, ms: number) => void) | undefined;

  /** A forward frame leaves for `node` (or was queued for it when its link went down): number it, keep its QoS 1/2 messages. */
  sent(node: string, f: ForwardBody, held = false): void {
    let kept: WireMsg[] | undefined;
    let bytes = 0;
    for (const m of f.msgs) {
      if (m.qos > 0) {
        (kept ??= []).push(m);
        bytes += m.payload.length + m.topic.length + 64;
      }
    }
    if (!kept) return;
    let o = this.out.get(node);
    if (!o) this.out.set(node, (o = { seq: 0, frames: [], msgs: 0, bytes: 0, dropped: 0, held: 0 }));
    f.epoch = this.epoch;
    f.seq = ++o.seq;
    o.frames.push({ seq: f.seq, msgs: kept, bytes, at: performance.now(), held });
    o.msgs += kept.length;
    o.bytes += bytes;
    if (held) o.held++;
    while (o.frames.length > 1 && (o.msgs > MAX_MSGS || o.bytes > MAX_BYTES)) {
      const gone = o.frames.shift()!;
      o.msgs -= gone.msgs.length;
      o.bytes -= gone.bytes;
      o.dropped += gone.msgs.length;
      if (gone.held) o.held--;
    }
  }

  /** Whether frames for `node` are held back (so newer ones must wait behind them). */
  holding(node: string): boolean {
    return (this.out.get(node)?.held ?? 0) > 0;
  }

  /**
   * Writes the held frames for `node`, oldest first, while `write` answers true (the stream
   * takes more); they count as sent from now. Returns how many messages the buffer dropped
   * meanwhile (its oldest frames, when it held more than it may).
   */
  releaseHeld(node: string, write: (f: Frame) => boolean): number {
    const o = this.out.get(node);
    if (!o || o.held === 0) return 0;
    const now = performance.now();
    for (const k of o.frames) {
      if (o.held === 0) break;
      if (!k.held) continue;
      k.held = false;
      k.at = now;
      o.held--;
      if (!write({ forward: { msgs: k.msgs, epoch: this.epoch, seq: k.seq } })) break;
    }
    const dropped = o.dropped;
    o.dropped = 0;
    return dropped;
  }

  /** `node` applied every frame up to `seq` of `epoch`. */
  acked(node: string, epoch: number, seq: number): void {
    const o = this.out.get(node);
    if (!o || epoch !== this.epoch) return;
    const now = this.onRoundTrip ? performance.now() : 0;
    while (o.frames.length > 0 && o.frames[0]!.seq <= seq) {
      const done = o.frames.shift()!;
      o.msgs -= done.msgs.length;
      o.bytes -= done.bytes;
      this.onRoundTrip?.(node, now - done.at);
    }
  }

  /** The link to `node` is up again: the frames it has not acknowledged, to send again first; and what was dropped meanwhile. */
  resend(node: string): { frames: Frame[]; msgs: number; dropped: number } {
    const o = this.out.get(node);
    if (!o) return { frames: [], msgs: 0, dropped: 0 };
    const dropped = o.dropped;
    o.dropped = 0;
    for (const k of o.frames) k.held = false;
    o.held = 0;
    return { frames: o.frames.map((k) => ({ forward: { msgs: k.msgs, epoch: this.epoch, seq: k.seq } })), msgs: o.msgs, dropped };
  }

  /** Receiver: whether a forward frame from `origin` is new (false: applied before, skip it). */
  accept(origin: string, f: ForwardBody): boolean {
    if (!f.seq || !f.epoch) return true;
    const last = this.applied.get(origin);
    if (last && last.epoch === f.epoch && f.seq <= last.seq) {
      this.toAck.add(origin); // its earlier acknowledgement was lost: say it again
      return false;
    }
    this.applied.set(origin, { epoch: f.epoch, seq: f.seq });
    this.toAck.add(origin);
    return true;
  }

  /** Receiver: our link to `origin` is (back) up, so it can hear what we applied. */
  linkUp(origin: string): void {
    if (this.applied.has(origin)) this.toAck.add(origin);
  }

  hasAcks(): boolean {
    return this.toAck.size > 0;
  }

  /** Receiver: the acknowledgements to send now, one per origin. */
  takeAcks(): [string, { epoch: number; seq: number }][] {
    const acks: [string, { epoch: number; seq: number }][] = [];
    for (const origin of this.toAck) {
      const last = this.applied.get(origin);
      if (last) acks.push([origin, last]);
    }
    this.toAck.clear();
    return acks;
  }
}

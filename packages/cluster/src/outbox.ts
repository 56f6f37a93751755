import type { Frame, WireMsg } from './wire.js';

/** A forward frame is closed at about this many bytes; the next messages start another. */
const FRAME_BYTES = 1 << 20;

/** What waits for one peer until the next flush. */
export interface Queue {
  frames: Frame[];
  /** Bytes in the last frame when it is a forward frame (0 otherwise). */
  open: number;
  /** Forwarded messages queued, and their topic + payload bytes (peer-stats.ts). */
  msgs: number;
  bytes: number;
}

/**
 * Frames waiting per peer, sent together once the current turn of the event loop is done
 * (`flush`, given by the cluster): messages published in one turn share a forward frame,
 * and the route changes of that turn go out before them.
 */
export class Outbox {
  private readonly queues = new Map<string, Queue>();
  private scheduled = false;

  constructor(private readonly flush: () => void) {}

  /** Runs the flush after this turn (once, however often asked). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flushNow());
  }

  /** Runs the flush at once (a scheduled one still runs later, finding little to do). */
  flushNow(): void {
    this.scheduled = false;
    this.flush();
  }

  /** A frame of its own for `node`, after what is queued. */
  push(node: string, frame: Frame): void {
    const q = this.queue(node);
    q.frames.push(frame);
    q.open = 0;
    this.schedule();
  }

  /** A forwarded message for `node`: added to the open forward frame while it is small. */
  pushMsg(node: string, wire: WireMsg, size: number): void {
    const q = this.queue(node);
    const last = q.frames[q.frames.length - 1];
    if (last?.forward && q.open > 0 && q.open < FRAME_BYTES) {
      last.forward.msgs.push(wire);
      q.open += size;
    } else {
      q.frames.push({ forward: { msgs: [wire] } });
      q.open = size;
    }
    q.msgs++;
    q.bytes += wire.payload.length + wire.topic.length;
    this.schedule();
  }

  /** Removes and returns what waits for `node` (its link went down). */
  take(node: string): Queue | undefined {
    const q = this.queues.get(node);
    this.queues.delete(node);
    return q;
  }

  /** Removes and returns everything queued, per node. */
  takeAll(): Map<string, Queue> {
    const all = new Map(this.queues);
    this.queues.clear();
    return all;
  }

  private queue(node: string): Queue {
    let q = this.queues.get(node);
    if (!q) this.queues.set(node, (q = { frames: [], open: 0, msgs: 0, bytes: 0 }));
    return q;
  }
}

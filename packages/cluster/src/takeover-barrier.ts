/**
 * The barrier that ends a takeover's stand-in only once nothing can still be on its way to
 * it. A third node X forwards a message to the old node and, when the new node's routes
 * match, to the new node too, in one flush; the new node drops what arrives for a clientid
 * it has no session of yet (the old node has it). If the old node ended its stand-in as soon
 * as the new node asked (`takeover_end`), a message X sent before the new node installed
 * the session but that reaches the old node after the ask would be lost. So the new node
 * also asks every other node to send a marker to the old node (`takeover_barrier`); X's
 * stream to the old node is ordered, so when X's marker (`takeover_barrier_done`) arrives,
 * everything X sent before it has. The stand-in ends when every marker is in (or after
 * `timeoutMs`, a node that went away or an earlier release that sends none).
 */
import type { Frame } from './wire.js';

export type BarrierBody = NonNullable<Frame['takeover_barrier']>;
export type BarrierDoneBody = NonNullable<Frame['takeover_barrier_done']>;

export interface BarrierDeps {
  readonly node: string;
  send(node: string, frame: Frame): void;
  /** Running peers (this node excluded). */
  peers(): string[];
  readonly timeoutMs: number;
}

interface Waiting {
  missing: Set<string>;
  timer: NodeJS.Timeout;
  run: () => void;
}

export class TakeoverBarrier {
  private readonly waiting = new Map<string, Waiting>();
  /** Markers that came before the new node's `takeover_end`, by clientid. */
  private readonly early = new Map<string, Set<string>>();

  constructor(private readonly deps: BarrierDeps) {}

  /** On the new node, with `takeover_end`: every other node sends a marker to `oldNode`. */
  request(oldNode: string, clientid: string): void {
    for (const p of this.deps.peers()) if (p !== oldNode) this.deps.send(p, { takeover_barrier: { clientid, old_node: oldNode } });
  }

  /** On a third node: the marker goes after what this node has sent to the old node so far. */
  onBarrier(body: BarrierBody): void {
    if (body.old_node === this.deps.node) return;
    this.deps.send(body.old_node, { takeover_barrier_done: { clientid: body.clientid } });
  }

  /** On the old node: runs `run` once every running node but `newNode` has sent its marker. */
  await(newNode: string, clientid: string, run: () => void): void {
    const arrived = this.early.get(clientid);
    this.early.delete(clientid);
    const missing = new Set(this.deps.peers().filter((p) => p !== newNode && !arrived?.has(p)));
    if (missing.size === 0) return run();
    const prior = this.waiting.get(clientid);
    if (prior) this.finish(clientid, prior);
    const timer = setTimeout(() => {
      const w = this.waiting.get(clientid);
      if (w) this.finish(clientid, w);
    }, this.deps.timeoutMs);
    timer.unref();
    this.waiting.set(clientid, { missing, timer, run });
  }

  onDone(from: string, body: BarrierDoneBody): void {
    const w = this.waiting.get(body.clientid);
    if (!w) {
      // before the new node's takeover_end: kept for a moment
      let s = this.early.get(body.clientid);
      if (!s) {
        this.early.set(body.clientid, (s = new Set()));
        setTimeout(() => this.early.delete(body.clientid), this.deps.timeoutMs).unref();
      }
      s.add(from);
      return;
    }
    w.missing.delete(from);
    if (w.missing.size === 0) this.finish(body.clientid, w);
  }

  private finish(clientid: string, w: Waiting): void {
    clearTimeout(w.timer);
    if (this.waiting.get(clientid) === w) this.waiting.delete(clientid);
    w.run();
  }
}

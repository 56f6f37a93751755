/**
 * Retained messages on every node: a local retained publish is copied to every peer, a
 * peer whose link comes up gets all of ours, and concurrent writes of one topic settle by
 * last writer wins (newer timestamp, then the greater node name), the same on every node.
 */
import type { ClusterHost, Message } from '@vireo/broker';
import type { Outbox } from './outbox.js';
import { fromWire, toWire, type Frame, type WireMsg } from './wire.js';

export type RetainedBody = NonNullable<Frame['retained']>;

export interface RetainedSyncDeps {
  readonly node: string;
  readonly outbox: Outbox;
  /** The peers with a link up. */
  linkedNodes(): Iterable<string>;
  host(): ClusterHost | undefined;
}

export class RetainedSync {
  /** topic → the write this node holds: when, and on which node it was made. */
  private readonly meta = new Map<string, { ts: number; node: string }>();

  constructor(private readonly deps: RetainedSyncDeps) {}

  /** A local retained publish: this node is the latest writer; every peer gets a copy. */
  replicate(msg: Message): void {
    this.meta.set(msg.topic, { ts: msg.timestamp, node: this.deps.node });
    let entry: { msg: WireMsg; origin: string } | undefined;
    for (const node of this.deps.linkedNodes()) {
      entry ??= { msg: toWire(msg), origin: this.deps.node };
      this.deps.outbox.push(node, { retained: { entries: [entry] } });
    }
  }

  /** Every retained message here, for a peer whose link just came up (undefined: none). */
  snapshot(): Frame | undefined {
    const retained = this.deps.host()?.retainedMessages() ?? [];
    if (retained.length === 0) return undefined;
    return { retained: { entries: retained.map((m) => ({ msg: toWire(m), origin: this.meta.get(m.topic)?.node ?? this.deps.node })) } };
  }

  receive(body: RetainedBody): void {
    for (const e of body.entries) this.receiveOne(e.msg, e.origin);
  }

  private receiveOne(w: WireMsg, origin: string): void {
    const meta = this.meta.get(w.topic);
    const ts = w.timestamp ?? 0;
    if (meta && (meta.ts > ts || (meta.ts === ts && meta.node >= origin))) return;
    this.meta.set(w.topic, { ts, node: origin });
    this.deps.host()?.retainLocal(fromWire(w));
  }
}

/**
 * Forwarding: which peers a published message goes to (their routes, and for shared
 * groups spread over nodes the one node that delivers), batched into forward frames, and
 * the receiving side that hands forwarded messages to the local broker. QoS 1/2 forwards
 * are numbered and acknowledged (forward-acks.ts), so a link reset loses none.
 */
import type { ClusterHost, Message, SharedStrategy } from '@vireo/broker';
import type { Logger } from 'pino';
import { ForwardAcks } from './forward-acks.js';
import type { Outbox } from './outbox.js';
import type { PeerStats } from './peer-stats.js';
import type { RouteSync } from './route-sync.js';
import { SharedNodeChoice } from './shared-pick.js';
import { fromWire, toWire, type Frame } from './wire.js';

export type ForwardBody = NonNullable<Frame['forward']>;
export type ForwardAckBody = NonNullable<Frame['forward_ack']>;

export interface ForwarderDeps {
  readonly node: string;
  readonly log: Logger;
  readonly strategy: SharedStrategy;
  readonly routes: RouteSync;
  readonly outbox: Outbox;
  readonly stats: PeerStats;
  /** Whether a link to `node` is up. */
  linked(node: string): boolean;
  /** How many peers have a link up. */
  linkedCount(): number;
  host(): ClusterHost | undefined;
}

/** Something frames can be written to in order (an outbound link). */
export interface FrameSink {
  send(frame: Frame): void;
}

/** An outbound link that says when its peer has too much of ours unread (outbound.ts). */
export interface FlowSink extends FrameSink {
  congested(): boolean;
  readonly pendingBytes: number;
}

export class Forwarder {
  /** After `forward`: the `group/filter` keys another node delivers (see ClusterLink). */
  sharedElsewhere: ReadonlySet<string> | undefined;
  private readonly acks = new ForwardAcks();
  private readonly shared: SharedNodeChoice;
  // per-forward state for the trie visitors (kept to spare a closure per message)
  private readonly curTargets = new Map<string, string[] | null>();
  private curMsg: Message | undefined;

  constructor(private readonly deps: ForwarderDeps) {
    this.shared = new SharedNodeChoice(deps.node, deps.strategy);
    this.acks.onRoundTrip = (node, ms) => deps.stats.forwardAck(node, ms);
  }

  /** Queues `msg` for every peer with a matching route; returns how many peers. */
  forward(msg: Message): number {
    this.sharedElsewhere = undefined;
    if (this.deps.linkedCount() === 0) return 0;
    const targets = this.curTargets;
    targets.clear();
    this.curMsg = msg;
    const table = this.deps.routes.remote;
    table.plain.match(msg.topic, this.visitPlain);
    if (table.shared.size > 0) table.shared.match(msg.topic, this.visitShared);
    this.curMsg = undefined;
    if (targets.size === 0) return 0;
    const wire = toWire(msg, this.deps.node);
    const size = msg.payload.length + msg.topic.length + 64;
    for (const [node, groups] of targets) this.deps.outbox.pushMsg(node, groups ? { ...wire, groups } : wire, size);
    return targets.size;
  }

  private readonly visitPlain = (node: string): void => {
    if (this.deps.linked(node) && !this.curTargets.has(node)) this.curTargets.set(node, null);
  };

  private readonly visitShared = (group: string, nodes: Set<string>, filter: string): void => {
    const msg = this.curMsg!;
    const selfHas = this.deps.routes.hasLocalShared(filter, group);
    const chosen = this.shared.choose(group, filter, nodes, (n) => this.deps.linked(n), selfHas, msg.from, msg.topic);
    if (chosen === undefined || chosen === this.deps.node) return;
    const key = `${group}/${filter}`;
    const elsewhere = (this.sharedElsewhere as Set<string> | undefined) ?? new Set<string>();
    elsewhere.add(key);
    this.sharedElsewhere = elsewhere;
    const list = this.curTargets.get(chosen);
    if (list) list.push(key);
    else this.curTargets.set(chosen, [key]);
  };

  /** A frame is about to be written to `node`: forward frames are numbered and kept (QoS 1/2). */
  sending(node: string, frame: Frame): void {
    if (frame.forward) this.acks.sent(node, frame.forward);
  }

  /**
   * Writes one queued frame to `node`'s link, honouring its backpressure: while the peer has
   * more than `cluster.rpc.max_pending_bytes` of ours unread (or earlier forwards wait), a
   * forward frame is not written: its QoS 1/2 messages are numbered and kept, to go when the
   * stream drains (`release`) or the link comes back, as after a link outage; its QoS 0
   * messages are dropped and counted. Other frames (routes, retained, heartbeats) still go.
   */
  write(node: string, frame: Frame, link: FlowSink, force = false): void {
    const body = frame.forward;
    // a takeover's end and its barrier markers promise the old node that everything sent to it
    // before them has arrived (takeover-barrier.ts): forwards held for a slow peer go first
    if ((frame.takeover_end || frame.takeover_barrier_done) && this.acks.holding(node)) this.release(node, link, true);
    if (body && !force && (this.acks.holding(node) || link.congested())) {
      let qos0 = 0;
      for (const m of body.msgs) if (m.qos === 0) qos0++;
      if (qos0 > 0) this.deps.stats.droppedQos0(node, qos0);
      if (!this.acks.holding(node)) {
        this.deps.log.warn(
          { peer_node: node, pending_bytes: link.pendingBytes, reason: 'queue_full' },
          'Cluster node is not reading: QoS 1/2 forwards wait for it, QoS 0 forwards are dropped',
        );
      }
      this.acks.sent(node, body, true);
      return;
    }
    this.sending(node, frame);
    link.send(frame);
  }

  /** `node`'s stream drained (or a flush found it no longer congested): the forwards held back go, in order. */
  release(node: string, link: FlowSink, force = false): void {
    if (!this.acks.holding(node) || (!force && link.congested())) return;
    const dropped = this.acks.releaseHeld(node, (f) => {
      link.send(f);
      return force || !link.congested();
    });
    if (dropped > 0) this.deps.log.warn({ peer_node: node, dropped }, 'Forwards held for a cluster node that was not reading dropped: its buffer was full');
    if (!this.acks.holding(node)) this.deps.log.info({ peer_node: node, pending_bytes: link.pendingBytes }, 'Cluster node is reading again: held forwards sent');
  }

  /** The acknowledgements owed to origins, written to their links. */
  sendAcks(linkTo: (node: string) => FrameSink | undefined): void {
    if (!this.acks.hasAcks()) return;
    for (const [origin, ack] of this.acks.takeAcks()) linkTo(origin)?.send({ forward_ack: ack });
  }

  /** The link to `node` is up: what it had not acknowledged goes again, before anything new. */
  linkUp(node: string, link: FrameSink): void {
    const again = this.acks.resend(node);
    for (const f of again.frames) link.send(f);
    if (again.msgs + again.dropped > 0) {
      this.deps.log.info({ peer_node: node, messages: again.msgs, dropped: again.dropped }, 'Unacknowledged forwards sent again to cluster node');
    }
    this.acks.linkUp(node);
  }

  /** The link to `node` went down with `queued` frames unsent: their QoS 1/2 messages are kept until it is back. */
  linkDown(node: string, queued: readonly Frame[]): void {
    for (const f of queued) this.sending(node, f);
  }

  /** Forwarded messages from `node`, for local subscribers (once, even when sent again). */
  receive(node: string, body: ForwardBody): void {
    const host = this.deps.host();
    if (!host) return;
    const fresh = this.acks.accept(node, body);
    this.deps.outbox.schedule(); // the acknowledgement
    if (!fresh) return; // sent again after a link reset, and applied before
    for (const w of body.msgs) host.dispatchLocal(fromWire(w), w.groups && w.groups.length > 0 ? w.groups : undefined);
  }

  /** `node` applied our forward frames up to this number. */
  acked(node: string, body: ForwardAckBody): void {
    this.acks.acked(node, body.epoch, body.seq);
  }
}

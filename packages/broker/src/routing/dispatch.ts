import type { RrOwner } from '../channel/context.js';
import type { ClusterLink } from '../cluster.js';
import type { ClientRegistry } from '../cm/registry.js';
import type { EventSink } from '../events.js';
import type { BrokerHooks } from '../hooks.js';
import type { Message } from '../message.js';
import type { DeliveryLatency } from '../node/delivery-latency.js';
import type { LogThrottle } from '../node/log-throttle.js';
import type { Stats } from '../node/stats.js';
import type { MqttOptions, SharedStrategy } from '../options.js';
import type { Session } from '../session/session.js';
import type { Delivery, DropReason, SessionRef } from '../session/types.js';
import type { SubOptions } from '../subscription.js';
import type { Retainer } from './retainer.js';
import type { Router } from './router.js';
import type { SharedGroup } from './shared-group.js';

/** The one place a Delivery is made: QoS granted, retain flag, subscription id, shared group. */
export function deliveryFor(msg: Message, opts: SubOptions, retain: boolean, share: string | undefined, upgradeQos: boolean): Delivery {
  return {
    msg,
    qos: upgradeQos ? opts.qos : msg.qos < opts.qos ? msg.qos : opts.qos,
    retain,
    subIds: opts.subId ? [opts.subId] : undefined,
    share,
  };
}

/**
 * Hands messages to this node's sessions (EMQX's emqx_broker dispatch): every matching plain
 * subscription, one member per shared group, the cluster for other nodes. Per-message state
 * lives in fields so the trie visitors are made once, not a closure per message.
 */
export class Dispatcher {
  private readonly sessions: Map<string, Session>;
  private readonly channels: ClientRegistry['channels'];
  /** Round-robin counters of publishers without a channel (the node itself, other nodes). */
  private readonly brokerRr = new Map<string, { value: number }>();
  // per-publish state for the trie visitors
  private curMsg: Message | undefined;
  private curCount = 0;
  private curFrom: RrOwner | undefined;
  private curElsewhere: ReadonlySet<string> | undefined;
  private exclude: string | undefined;

  constructor(
    private readonly router: Router,
    registry: ClientRegistry,
    private readonly retainer: Retainer,
    private readonly cluster: ClusterLink,
    private readonly stats: Stats,
    private readonly latency: DeliveryLatency,
    private readonly events: EventSink,
    private readonly mqtt: MqttOptions,
    private readonly hooks: BrokerHooks,
    private readonly log: LogThrottle,
  ) {
    this.sessions = registry.sessions;
    this.channels = registry.channels;
  }

  /** Routes one message to every matching subscription; returns how many local sessions got it. */
  publish(msg: Message, from?: RrOwner): number {
    this.latency.enter(msg);
    if (this.events.listenerCount('message.publish') > 0) this.events.emit('message.publish', msg);
    const retained = msg.retain && this.retainer.retain(msg);
    const prevMsg = this.curMsg;
    const prevCount = this.curCount;
    this.curMsg = msg;
    this.curCount = 0;
    this.router.direct.match(msg.topic, this.visitDirect);
    // the cluster goes first: it decides which node serves a shared group spread over several
    const nodes = this.cluster.forward(msg, retained);
    if (this.router.shared.size > 0) {
      const prevElsewhere = this.curElsewhere;
      this.curElsewhere = this.cluster.sharedElsewhere;
      this.curFrom = from;
      this.router.shared.match(msg.topic, this.visitShared);
      this.curFrom = undefined;
      this.curElsewhere = prevElsewhere;
    }
    const count = this.curCount;
    this.curMsg = prevMsg;
    this.curCount = prevCount;
    if (count === 0 && nodes === 0) {
      this.countDropped('no_subscribers');
      if (this.events.listenerCount('message.dropped') > 0 && !msg.topic.startsWith('$SYS/')) this.events.emit('message.dropped', msg, 'no_subscribers');
    }
    // the retainer keeps this object: its later deliveries to new subscribers are no samples
    if (msg.retain && msg.sampledAt !== undefined) msg.sampledAt = undefined;
    return count;
  }

  /** A message another node forwarded: local subscribers only, shared groups only as listed (`group/filter`). */
  dispatchLocal(msg: Message, groups: readonly string[] | undefined): number {
    this.latency.enter(msg);
    const prevMsg = this.curMsg;
    const prevCount = this.curCount;
    this.curMsg = msg;
    this.curCount = 0;
    this.router.direct.match(msg.topic, this.visitDirect);
    for (const key of groups ?? []) {
      const group = this.groupOf(key);
      const chosen = group && this.pickMember(group, this.mqtt.sharedSubscriptionStrategy, this.rrOf(this.brokerRr, key), msg, undefined);
      if (group && chosen) {
        this.curCount++;
        this.deliverShared(group, chosen, msg);
      } else this.countDropped('no_subscribers');
    }
    const count = this.curCount;
    this.curMsg = prevMsg;
    this.curCount = prevCount;
    return count;
  }

  /** Retained messages for a new subscription, by its Retain Handling; never for shared ones. */
  sendRetained(session: Session, fullFilter: string, opts: SubOptions, isNew: boolean): void {
    if (opts.share !== undefined || opts.rh === 2 || (opts.rh === 1 && !isNew)) return;
    for (const msg of this.retainer.match(fullFilter, Date.now())) {
      if (opts.aclCheck && !this.deliveryAllowed(session.clientId, msg.topic)) continue;
      session.deliver(deliveryFor(msg, opts, true, undefined, this.mqtt.upgradeQos));
    }
  }

  /** Gives undelivered QoS 1/2 messages of a leaving shared member to other members of their group. */
  redispatchShared(from: Session, deliveries: Delivery[]): void {
    for (const d of deliveries) {
      const group = this.groupOf(d.share!);
      const chosen = group && this.pickMember(group, 'random', { value: 0 }, d.msg, from.clientId);
      if (group && chosen) {
        this.log.logger.debug({ clientid: from.clientId, to: chosen, topic: d.msg.topic }, 'Redispatched shared message');
        this.deliverShared(group, chosen, d.msg);
      } else if (from.outlet === undefined && this.sessions.get(from.clientId) === from) {
        // nobody else in the group: keep it with the (persistent) session
        from.deliver(d);
      } else this.onSessionDrop(from, d, 'no_subscribers');
    }
  }

  /** A marked subscription's message (SubOptions.aclCheck): may this client receive it? */
  private deliveryAllowed(clientId: string, topic: string): boolean {
    const check = this.hooks.authorizeDelivery;
    return check === undefined || check(clientId, topic);
  }

  countDropped(reason: string): void {
    this.stats.msgDropped++;
    this.stats.droppedBy.set(reason, (this.stats.droppedBy.get(reason) ?? 0) + 1);
  }

  onSessionDrop(session: SessionRef, d: Delivery, reason: DropReason): void {
    this.countDropped(reason);
    if (reason === 'queue_full') {
      // throttled: under overload this is once per message, and a line each kept the node stalled
      const fields = { clientid: session.clientId, reason, topic: d.msg.topic, qos: d.qos, max_mqueue_len: this.mqtt.maxMqueueLen, max_mqueue_bytes: this.mqtt.maxMqueueBytes };
      this.log.event('warn', `queue_full ${session.clientId}`, fields, 'Dropped msg due to mqueue is full');
    }
    if (this.events.listenerCount('message.dropped') > 0) this.events.emit('message.dropped', d.msg, reason);
    if (this.events.listenerCount('delivery.dropped') > 0) this.events.emit('delivery.dropped', session.clientId, d.msg, reason);
  }

  private readonly visitDirect = (clientId: string, opts: SubOptions): void => {
    const msg = this.curMsg!;
    if (clientId === msg.from && (opts.nl || this.mqtt.ignoreLoopDeliver)) return;
    const session = this.sessions.get(clientId);
    if (!session) return;
    if (opts.aclCheck && !this.deliveryAllowed(clientId, msg.topic)) return;
    this.curCount++;
    session.deliver(deliveryFor(msg, opts, opts.rap ? msg.retain : false, undefined, this.mqtt.upgradeQos));
  };

  private readonly visitShared = (_group: string, group: SharedGroup): void => {
    if (this.curElsewhere?.has(group.key)) return;
    const msg = this.curMsg!;
    const counters = this.curFrom ? (this.curFrom.rrCounters ??= new Map<string, { value: number }>()) : this.brokerRr;
    const chosen = this.pickMember(group, this.mqtt.sharedSubscriptionStrategy, this.rrOf(counters, group.key), msg, undefined);
    if (!chosen) return;
    this.curCount++;
    this.deliverShared(group, chosen, msg);
  };

  private rrOf(counters: Map<string, { value: number }>, key: string): { value: number } {
    let rr = counters.get(key);
    if (!rr) counters.set(key, (rr = { value: 0 }));
    return rr;
  }

  /** `group/filter` (a Delivery's `share`, a forwarded message's group) → the group here. */
  private groupOf(key: string): SharedGroup | undefined {
    const slash = key.indexOf('/');
    return this.router.sharedGroup(key.slice(0, slash), key.slice(slash + 1));
  }

  private pickMember(group: SharedGroup, strategy: SharedStrategy, rr: { value: number }, msg: Message, exclude: string | undefined): string | undefined {
    // prefer connected members; fall back to any (its session queues the message)
    this.exclude = exclude;
    return group.pick(strategy, rr, msg.from, msg.topic, this.isOnline) ?? group.pick(strategy, rr, msg.from, msg.topic, this.hasSession);
  }

  private readonly isOnline = (id: string): boolean => id !== this.exclude && this.channels.has(id);
  private readonly hasSession = (id: string): boolean => id !== this.exclude && this.sessions.has(id);

  private deliverShared(group: SharedGroup, clientId: string, msg: Message): void {
    const opts = group.members.get(clientId)!;
    if (opts.aclCheck && !this.deliveryAllowed(clientId, msg.topic)) return;
    this.sessions.get(clientId)?.deliver(deliveryFor(msg, opts, opts.rap ? msg.retain : false, group.key, this.mqtt.upgradeQos));
  }
}

import { EventEmitter } from 'node:events';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import { parseSharedFilter } from '@vireo/mqtt';
import { RC } from '@vireo/mqtt';
import { Channel } from './channel.js';
import { LocalCluster } from './cluster.js';
import type { ClusterHost, ClusterLink } from './cluster.js';
import { Connection } from './connection.js';
import type { ClientInfo, ConnackInfo } from './hooks.js';
import { startListener } from './listeners.js';
import type { RunningListener } from './listeners.js';
import { newMessageId } from './message.js';
import type { Message, MessageProperties } from './message.js';
import { DEFAULT_MQTT, DEFAULT_SYS } from './options.js';
import type { BrokerConfig, BrokerOptions, ListenerOptions } from './options.js';
import { Retainer } from './retainer.js';
import { isExpired } from './message.js';
import { MemoryStore } from './persistence.js';
import { indexStored, sessionFromStore, StoreJournal } from './session-journal.js';
import { startExpirySweep } from './expiry-sweep.js';
import { Router } from './router.js';
import { Session } from './session.js';
import type { Delivery, DropReason, SessionEvents, SessionLimits, SessionState } from './session.js';
import { Stats } from './stats.js';
import { DeliveryLatency } from './delivery-latency.js';
import type { SubOptions } from './subscription.js';
import { SysPublisher } from './sys.js';
import { WillScheduler } from './will.js';
import { Tracer, type Trace, type TraceSpec } from './trace.js';
import { hostOf } from './peer.js';

export { ListenError } from './listeners.js';

/** EMQX's names for why a connection ended. */
export type DisconnectReason =
  | 'normal'
  | 'tcp_closed'
  | 'closed'
  | 'keepalive_timeout'
  | 'idle_timeout'
  | 'frame_error'
  | 'frame_too_large'
  | 'proto_unexpected_c'
  | 'protocol_error'
  | 'takeovered'
  | 'discarded'
  | 'kicked'
  | 'shutdown'
  | 'etimedout'
  | 'einval'
  | (string & {});

export interface BrokerEvents {
  'client.connack': [ConnackInfo];
  'client.connected': [ClientInfo];
  'client.disconnected': [ClientInfo, DisconnectReason];
  'session.subscribed': [ClientInfo, string, SubOptions];
  'session.unsubscribed': [ClientInfo, string];
  'message.publish': [Message];
  'message.delivered': [string, Message];
  /** QoS 1 PUBACK or QoS 2 PUBREC from the subscriber (clientid, message). */
  'message.acked': [string, Message];
  'message.dropped': [Message, DropReason];
  /** Dropped on the way to one subscriber (queue full, expired, …): clientid, message, reason (rule events' delivery_dropped). */
  'delivery.dropped': [string, Message, DropReason];
  /** The running nodes of the cluster changed (sorted names, this node included). */
  'cluster.nodes_changed': [string[]];
  /** A trace started or stopped (trace-store.ts keeps the running ones). */
  'trace.changed': [];
}

/** What an application publishes through `Broker.publish`. */
export interface PublishRequest {
  topic: string;
  payload: Buffer | string;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  properties?: MessageProperties;
}

export function resolveOptions(config: BrokerConfig = {}): BrokerOptions {
  const nodeName = config.nodeName ?? `vireo@${os.hostname()}`;
  return {
    nodeName,
    listeners: config.listeners ?? [
      { type: 'tcp', name: 'tcp:default', host: '0.0.0.0', port: 1883, maxConnections: 1_024_000 },
      { type: 'ws', name: 'ws:default', host: '0.0.0.0', port: 8083, maxConnections: 1_024_000, path: '/mqtt' },
    ],
    mqtt: { ...DEFAULT_MQTT, ...config.mqtt },
    sys: { ...DEFAULT_SYS, ...config.sys },
    logger: config.logger ?? pino({ base: { node: nodeName } }),
    hooks: { ...config.hooks },
    store: config.store ?? new MemoryStore(),
    cluster: config.cluster,
  };
}

/** Starts a node in-process: listeners up, ready for clients. */
export async function createBroker(config: BrokerConfig = {}): Promise<Broker> {
  const broker = new Broker(resolveOptions(config));
  await broker.start();
  return broker;
}

/**
 * One node's engine: sessions, routing, retained messages, wills, takeover. Protocol details
 * live in Channel; the rest of a cluster is reached through `cluster`.
 */
export class Broker extends EventEmitter<BrokerEvents> implements ClusterHost {
  readonly logger: pino.Logger;
  readonly stats = new Stats();
  /** Sampled publish → socket-write latency; off until the metrics endpoint starts it. */
  readonly deliveryLatency = new DeliveryLatency();
  readonly router = new Router();
  readonly retainer = new Retainer();
  /** Client, topic and address traces (`vireo ctl trace`). */
  readonly tracer: Tracer;
  readonly sessions = new Map<string, Session>();
  readonly channels = new Map<string, Channel>();
  cluster: ClusterLink;
  readonly startedAt = Date.now();
  private mqttListeners: RunningListener[] = [];
  private readonly allChannels = new Set<Channel>();
  private readonly wills: WillScheduler;
  private readonly sys: SysPublisher;
  private readonly sessionLimits: SessionLimits;
  private readonly sessionEvents: SessionEvents;
  private housekeeping: NodeJS.Timeout | undefined;
  private expirySweep: NodeJS.Timeout | undefined;
  private readonly brokerRr = new Map<string, { value: number }>();
  private closing = false;

  constructor(readonly options: BrokerOptions) {
    super();
    this.logger = options.logger;
    this.tracer = new Tracer(options.nodeName);
    this.retainer.store = options.store;
    this.journal = new StoreJournal(options.store);
    this.cluster = options.cluster ?? new LocalCluster(options.nodeName);
    this.cluster.attach(this);
    this.sessionLimits = {
      maxInflight: options.mqtt.maxInflight,
      maxMqueueLen: options.mqtt.maxMqueueLen,
      mqueueStoreQos0: options.mqtt.mqueueStoreQos0,
    };
    this.sessionEvents = {
      onDrop: (s, d, reason) => this.onSessionDrop(s, d, reason),
      onDelivered: (s, d) => {
        this.stats.delivered++;
        if (d.msg.sampledAt !== undefined) this.deliveryLatency.delivered(d.msg.sampledAt);
        if (this.listenerCount('message.delivered') > 0) this.emit('message.delivered', s.clientId, d.msg);
      },
      onAcked: (s, d) => {
        this.stats.acked++;
        if (this.listenerCount('message.acked') > 0) this.emit('message.acked', s.clientId, d.msg);
      },
    };
    this.wills = new WillScheduler((msg) => this.publish(msg));
    this.wills.store = options.store;
    this.sys = new SysPublisher(this);
  }

  async start(): Promise<void> {
    await this.restore();
    try {
      for (const l of this.options.listeners) {
        if (l.port === 0) continue;
        this.mqttListeners.push(
          await startListener(l, (socket, peer, opts) => this.accept(socket, peer, opts), this.options.mqtt.maxPacketSize, (opts, peer, err) => {
            this.logger.info({ listener: opts.name, peer, reason: err.message }, 'TLS handshake failed');
            this.countDisconnect(opts.name, 'ssl_error');
          }),
        );
      }
    } catch (err) {
      await Promise.all(this.mqttListeners.map((l) => l.close()));
      this.mqttListeners = [];
      throw err;
    }
    const sweep = Math.min(this.options.mqtt.awaitRelTimeout / 2, 30_000);
    this.housekeeping = setInterval(() => this.sweepAwaitingRel(), Math.max(1000, sweep));
    this.housekeeping.unref();
    this.expirySweep = startExpirySweep(this.retainer, () => this.sessions.values(), this.options.mqtt.msgClearInterval, this.logger);
    this.sys.start();
  }

  addresses(): { name: string; type: ListenerOptions['type']; host: string; port: number }[] {
    return this.mqttListeners.map((l) => ({ name: l.options.name, type: l.options.type, host: l.options.host, port: l.port }));
  }

  /** Listener state with connection counts and disconnects by reason. */
  listenerStats(): { name: string; type: string; bind: string; connections: number; shutdownCount: Record<string, number> }[] {
    return this.mqttListeners.map((l) => ({
      name: l.options.name,
      type: l.options.type,
      bind: `${l.options.host}:${l.port}`,
      connections: l.connections,
      shutdownCount: Object.fromEntries(l.shutdownCount),
    }));
  }

  private accept(socket: Duplex, peer: string, listener: ListenerOptions): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, peer, listener.name, this.options.mqtt.maxPacketSize, this.stats);
    const ch = new Channel(conn, this);
    this.allChannels.add(ch);
    if (this.allChannels.size > this.stats.connectionsMax) this.stats.connectionsMax = this.allChannels.size;
  }

  assignClientId(): string {
    return `vireo-${randomBytes(8).toString('hex')}`;
  }

  // ── sessions ───────────────────────────────────────────────────────────────

  /**
   * Binds a connecting channel to its session. An existing connection of the same clientid
   * is closed: `takeovered` when the session goes on, `discarded` on clean start.
   */
  openSession(ch: Channel, cleanStart: boolean, expiryInterval: number): { session: Session; present: boolean } {
    const clientId = ch.clientId;
    // a delayed will waiting for this session: a reconnect to the session cancels it [MQTT-3.1.3-9];
    // clean start ends the session, which publishes it now [MQTT-3.1.2-8]
    if (cleanStart) this.wills.fireNow(clientId);
    else this.wills.cancel(clientId);
    const old = this.channels.get(clientId);
    let session = this.sessions.get(clientId);
    if (old && old !== ch) {
      const reason = cleanStart ? 'discarded' : 'takeovered';
      if (cleanStart) this.stats.discards++;
      else this.stats.takeovers++;
      this.logger.info({ clientid: clientId, peer: old.peer, new_peer: ch.peer, reason }, `Session ${reason}`);
      // the old connection's will (MQTT 5 §3.1.4, as EMQX): sent unless the session continues (clean start 0)
      // and the will has a delay; a discarded session ends, so its will goes out
      if (!cleanStart && old.will && old.will.delay > 0) old.will = undefined;
      this.channels.delete(clientId);
      old.session?.detach();
      old.close(reason, RC.SESSION_TAKEN_OVER);
      session = this.sessions.get(clientId);
    }
    let present = false;
    if (session && cleanStart) {
      this.destroySession(session, 'discarded');
      session = undefined;
    }
    if (session) {
      present = true;
      session.expiryInterval = expiryInterval;
      if (session.expiryTimer) clearTimeout(session.expiryTimer);
      session.expiryTimer = undefined;
    } else {
      session = new Session(clientId, expiryInterval, this.sessionLimits, this.sessionEvents);
      this.sessions.set(clientId, session);
    }
    // every CONNECT claims the clientid anew: after a partition the newest connection wins
    this.cluster.registerClient(clientId);
    this.channels.set(clientId, ch);
    this.persistSession(session);
    return { session, present };
  }

  channelConnected(ch: Channel): void {
    this.stats.connected++;
    this.logger.info(
      { clientid: ch.clientId, peer: ch.peer, username: ch.username, proto_ver: ch.protocolVersion, keepalive: ch.keepalive },
      'Client connected',
    );
    this.sys.clientConnected(ch);
    if (this.listenerCount('client.connected') > 0) this.emit('client.connected', ch.info);
  }

  /** A connected channel's socket is gone: will, session detach or end, counters, events. */
  channelClosed(ch: Channel, reason: string): void {
    this.allChannels.delete(ch);
    this.countDisconnect(ch.conn.listener, reason);
    this.stats.disconnected++;
    const session = ch.session;
    const current = this.channels.get(ch.clientId) === ch;
    if (current) this.channels.delete(ch.clientId);
    this.logger.info({ clientid: ch.clientId, peer: ch.peer, reason }, 'Client disconnected');
    if (session && current) {
      session.detach();
      const expiry = session.expiryInterval;
      if (ch.will) this.wills.schedule(ch.clientId, ch.will.msg, Math.min(ch.will.delay, expiry));
      // messages a shared group gave this member go to another member now
      this.redispatchShared(session, session.takeShared());
      if (expiry === 0) this.destroySession(session, reason);
      else if (expiry !== 0xffffffff) {
        session.expiresAt = Date.now() + expiry * 1000;
        session.expiryTimer = setTimeout(() => this.expireSession(session), Math.min(expiry * 1000, 2 ** 31 - 1));
        session.expiryTimer.unref();
      }
      if (expiry !== 0) this.persistSession(session);
    } else if (ch.will) {
      this.wills.schedule(ch.clientId, ch.will.msg, 0);
    }
    this.sys.clientDisconnected(ch, reason);
    if (this.listenerCount('client.disconnected') > 0) this.emit('client.disconnected', ch.info, reason);
  }

  countDisconnect(listener: string, reason: string): void {
    const l = this.mqttListeners.find((x) => x.options.name === listener);
    if (l) l.shutdownCount.set(reason, (l.shutdownCount.get(reason) ?? 0) + 1);
  }

  /** A channel that never completed CONNECT is gone. */
  channelAborted(ch: Channel, reason: string): void {
    this.allChannels.delete(ch);
    this.countDisconnect(ch.conn.listener, reason);
  }

  private expireSession(session: Session): void {
    if (this.sessions.get(session.clientId) !== session || session.outlet) return;
    // timers top out at 2^31 ms (24.8 days): a longer expiry waits again for what is left
    const left = session.expiresAt - Date.now();
    if (session.expiresAt > 0 && left > 0) {
      session.expiryTimer = setTimeout(() => this.expireSession(session), Math.min(left, 2 ** 31 - 1));
      session.expiryTimer.unref();
      return;
    }
    this.logger.info({ clientid: session.clientId }, 'Session expired');
    this.wills.fireNow(session.clientId);
    this.destroySession(session, 'expired');
  }

  /** Ends a session: its subscriptions leave the router; undelivered shared messages go to other members. */
  private destroySession(session: Session, reason: string): void {
    if (this.sessions.get(session.clientId) === session) this.cluster.unregisterClient(session.clientId);
    if (this.sessions.get(session.clientId) === session) {
      this.sessions.delete(session.clientId);
      if (session.journal) this.journal.detach(session);
      this.forgetSession(session.clientId);
    }
    const pending = session.pending().filter((d) => d.share && d.qos > 0);
    for (const [filter, opts] of session.subscriptions) this.removeRoute(session.clientId, filter, opts);
    session.subscriptions.clear();
    session.close();
    this.redispatchShared(session, pending);
    this.logger.debug({ clientid: session.clientId, reason }, 'Session terminated');
  }

  // ── persistence ────────────────────────────────────────────────────────────
  // Only sessions with an expiry are written, and only when their subscriptions or expiry
  // change (never per message); the store queues and batches the writes.

  /** Clientids of the sessions the store holds. */
  private readonly storedSessions = new Set<string>();
  /** Writes persistent sessions' messages and QoS 2 state as they change. */
  private readonly journal: StoreJournal;

  private persistSession(session: Session): void {
    if (session.expiryInterval === 0) {
      if (session.journal) this.journal.detach(session);
      return this.forgetSession(session.clientId);
    }
    const header = {
      clientId: session.clientId,
      createdAt: session.createdAt,
      expiryInterval: session.expiryInterval,
      expiresAt: this.channels.has(session.clientId) ? 0 : session.expiresAt,
    };
    if (!session.journal) this.journal.attach(session);
    // stored already: its subscriptions are too (kept row by row, see persistSubscription)
    if (this.storedSessions.has(session.clientId)) return this.options.store.updateSession(header);
    this.storedSessions.add(session.clientId);
    this.options.store.putSession({ ...header, subscriptions: [...session.subscriptions] });
  }

  /** One subscription changed (`opts` undefined: removed): one row, not the session's whole list. */
  private persistSubscription(session: Session, fullFilter: string, opts: SubOptions | undefined): void {
    if (!this.storedSessions.has(session.clientId)) return this.persistSession(session);
    if (opts) this.options.store.putSubscription(session.clientId, fullFilter, opts);
    else this.options.store.deleteSubscription(session.clientId, fullFilter);
  }

  private forgetSession(clientId: string): void {
    if (this.storedSessions.delete(clientId)) this.options.store.deleteSession(clientId);
  }

  /** Puts back what the store kept: retained messages, and persistent sessions with their routes. */
  private async restore(): Promise<void> {
    const store = this.options.store;
    const { retained, sessions, deliveries, awaitingRel, wills } = await store.load();
    const held = indexStored({ deliveries, awaitingRel });
    const now = Date.now();
    let nRetained = 0;
    for (const msg of retained) {
      if (isExpired(msg, now)) store.deleteRetained(msg.topic);
      else {
        this.retainer.restore({ ...msg, id: newMessageId() }); // ids are per node lifetime
        nRetained++;
      }
    }
    let nSessions = 0;
    for (const p of sessions) {
      const never = p.expiryInterval === 0xffffffff;
      // a session that was connected when the node stopped expires counting from now
      const expiresAt = never ? 0 : p.expiresAt || now + p.expiryInterval * 1000;
      if (!never && expiresAt <= now) {
        store.deleteSession(p.clientId);
        continue;
      }
      const session = sessionFromStore(p, held, this.sessionLimits, this.sessionEvents, this.journal);
      this.sessions.set(p.clientId, session);
      this.storedSessions.add(p.clientId);
      for (const [fullFilter, opts] of p.subscriptions) {
        session.setSubscription(fullFilter, opts);
        const filter = opts.share === undefined ? fullFilter : (parseSharedFilter(fullFilter) as { filter: string }).filter;
        const hadRoute = this.hasRoute(filter, opts.share);
        this.router.subscribe(p.clientId, filter, opts);
        if (!hadRoute) this.cluster.addRoute(filter, opts.share);
      }
      if (!never) {
        session.expiresAt = expiresAt;
        session.expiryTimer = setTimeout(() => this.expireSession(session), Math.min(expiresAt - now, 2 ** 31 - 1));
        session.expiryTimer.unref();
      }
      nSessions++;
    }
    // delayed wills: those due while the node was down go out now, after the routes are back
    for (const w of wills) this.wills.restore(w.clientId, { ...w.msg, id: newMessageId() }, w.fireAt, now);
    if (nSessions + nRetained + wills.length > 0 || store.location !== 'memory') {
      this.logger.info(
        { sessions: nSessions, retained: nRetained, wills: wills.length, store: store.location },
        'Restored persistent sessions and retained messages',
      );
    }
  }

  private sweepAwaitingRel(): void {
    const deadline = Date.now() - this.options.mqtt.awaitRelTimeout;
    for (const s of this.sessions.values()) {
      if (s.awaitingRel.size === 0) continue;
      for (const [pid, at] of s.awaitingRel) {
        if (at > deadline) continue;
        s.deleteAwaitingRel(pid);
        this.logger.warn({ clientid: s.clientId, packet_id: pid }, 'Dropped qos2 packet due to await_rel_timeout');
      }
    }
  }

  // ── subscriptions ──────────────────────────────────────────────────────────

  subscribe(session: Session, info: ClientInfo, fullFilter: string, opts: SubOptions): boolean {
    const existing = session.subscriptions.get(fullFilter);
    if (this.options.hooks.deliveryCheck?.(info, fullFilter)) opts.aclCheck = true;
    session.setSubscription(fullFilter, opts);
    if (session.expiryInterval !== 0) this.persistSubscription(session, fullFilter, opts);
    const filter = opts.share === undefined ? fullFilter : (parseSharedFilter(fullFilter) as { filter: string }).filter;
    const hadRoute = this.hasRoute(filter, opts.share);
    this.router.subscribe(session.clientId, filter, opts);
    if (!hadRoute) this.cluster.addRoute(filter, opts.share);
    if (this.listenerCount('session.subscribed') > 0) this.emit('session.subscribed', info, fullFilter, opts);
    return existing === undefined;
  }

  unsubscribe(session: Session, info: ClientInfo, fullFilter: string): boolean {
    const opts = session.subscriptions.get(fullFilter);
    if (!opts) return false;
    session.subscriptions.delete(fullFilter);
    if (session.expiryInterval !== 0) this.persistSubscription(session, fullFilter, undefined);
    this.removeRoute(session.clientId, fullFilter, opts);
    if (this.listenerCount('session.unsubscribed') > 0) this.emit('session.unsubscribed', info, fullFilter);
    return true;
  }

  private removeRoute(clientId: string, fullFilter: string, opts: SubOptions): void {
    const filter = opts.share === undefined ? fullFilter : (parseSharedFilter(fullFilter) as { filter: string }).filter;
    this.router.unsubscribe(clientId, filter, opts.share);
    if (!this.hasRoute(filter, opts.share)) this.cluster.deleteRoute(filter, opts.share);
  }

  private hasRoute(filter: string, share: string | undefined): boolean {
    if (share === undefined) return (this.router.direct.entriesOf(filter)?.size ?? 0) > 0;
    return this.router.sharedGroup(share, filter) !== undefined;
  }

  /** Retained messages for a new subscription, by its Retain Handling; never for shared ones. */
  sendRetained(session: Session, fullFilter: string, opts: SubOptions, isNew: boolean): void {
    if (opts.share !== undefined || opts.rh === 2 || (opts.rh === 1 && !isNew)) return;
    const now = Date.now();
    for (const msg of this.retainer.match(fullFilter, now)) {
      if (opts.aclCheck && !this.deliveryAllowed(session.clientId, msg.topic)) continue;
      session.deliver({
        msg,
        qos: this.grantQos(msg.qos, opts.qos),
        retain: true,
        subIds: opts.subId ? [opts.subId] : undefined,
        share: undefined,
      });
    }
  }

  private grantQos(msgQos: 0 | 1 | 2, subQos: 0 | 1 | 2): 0 | 1 | 2 {
    if (this.options.mqtt.upgradeQos) return subQos;
    return msgQos < subQos ? msgQos : subQos;
  }

  // ── publishing ─────────────────────────────────────────────────────────────

  /** Publishes from the application embedding the broker. */
  publishMessage(req: PublishRequest): number {
    const now = Date.now();
    const props = req.properties;
    return this.publish({
      id: newMessageId(),
      topic: req.topic,
      payload: typeof req.payload === 'string' ? Buffer.from(req.payload) : req.payload,
      qos: req.qos ?? 0,
      retain: req.retain ?? false,
      properties: props,
      from: '',
      timestamp: now,
      expiresAt: props?.messageExpiryInterval ? now + props.messageExpiryInterval * 1000 : 0,
    });
  }

  /** Routes one message to every matching subscription; returns how many got it. */
  publish(msg: Message, from?: Channel): number {
    this.deliveryLatency.enter(msg);
    if (this.listenerCount('message.publish') > 0) this.emit('message.publish', msg);
    if (msg.retain) this.retainer.retain(msg);
    const prevMsg = this.curMsg;
    const prevCount = this.curCount;
    this.curMsg = msg;
    this.curCount = 0;
    this.router.direct.match(msg.topic, this.visitDirect);
    // the cluster goes first: it decides which node serves a shared group spread over several
    const nodes = this.cluster.forward(msg);
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
      if (this.listenerCount('message.dropped') > 0 && !msg.topic.startsWith('$SYS/')) this.emit('message.dropped', msg, 'no_subscribers');
    }
    // the retainer keeps this object: its later deliveries to new subscribers are no samples
    if (msg.retain && msg.sampledAt !== undefined) msg.sampledAt = undefined;
    return count;
  }

  /** A message another node forwarded: local subscribers only, shared groups only as listed. */
  dispatchLocal(msg: Message, groups: readonly string[] | undefined): number {
    this.deliveryLatency.enter(msg);
    const prevMsg = this.curMsg;
    const prevCount = this.curCount;
    this.curMsg = msg;
    this.curCount = 0;
    this.router.direct.match(msg.topic, this.visitDirect);
    for (const key of groups ?? []) {
      const slash = key.indexOf('/');
      const group = this.router.sharedGroup(key.slice(0, slash), key.slice(slash + 1));
      const chosen = group && this.pickMember(group, this.options.mqtt.sharedSubscriptionStrategy, this.brokerRr.get(key) ?? this.newRr(key), msg, undefined);
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

  private newRr(key: string): { value: number } {
    const rr = { value: 0 };
    this.brokerRr.set(key, rr);
    return rr;
  }

  nodesChanged(): void {
    if (this.closing) return;
    this.sys.nodesChanged();
    this.emit('cluster.nodes_changed', this.cluster.nodes());
  }

  localClients(): string[] {
    return [...this.sessions.keys()];
  }

  // ── takeover across nodes (the cluster drives it; DESIGN.md § Cluster) ──────

  /** Stand-ins for sessions moving to another node: they keep the routes until phase 2. */
  private readonly standIns = new Map<string, NodeJS.Timeout>();

  takeoverBegin(clientId: string, cleanStart: boolean): SessionState | undefined {
    if (cleanStart) this.wills.fireNow(clientId);
    else this.wills.cancel(clientId);
    const ch = this.channels.get(clientId);
    const session = this.sessions.get(clientId);
    if (ch) {
      const reason = cleanStart ? 'discarded' : 'takeovered';
      if (cleanStart) this.stats.discards++;
      else this.stats.takeovers++;
      this.logger.info({ clientid: clientId, peer: ch.peer, reason }, `Session ${reason} by another node`);
      if (!cleanStart && ch.will && ch.will.delay > 0) ch.will = undefined;
      this.channels.delete(clientId);
      session?.detach();
      ch.close(reason, RC.SESSION_TAKEN_OVER);
    }
    if (!session || this.standIns.has(clientId)) return undefined;
    if (cleanStart) {
      this.destroySession(session, 'discarded');
      return undefined;
    }
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    const state = session.export();
    const standIn = new Session(clientId, session.expiryInterval, this.sessionLimits, this.sessionEvents);
    for (const [f, o] of session.subscriptions) standIn.setSubscription(f, o);
    session.close();
    // the session lives on the new node now: this node's rows go in its next commit, so a crash
    // before phase 2 does not bring a stale copy back at restart (docs/persistence.md)
    if (session.journal) this.journal.detach(session);
    this.forgetSession(clientId);
    this.sessions.set(clientId, standIn);
    // phase 2 never came (the new node died): the session is gone from here anyway
    const timer = setTimeout(() => this.takeoverEnd(clientId), 15_000);
    timer.unref();
    this.standIns.set(clientId, timer);
    return state;
  }

  takeoverEnd(clientId: string): Delivery[] {
    const timer = this.standIns.get(clientId);
    if (!timer) return [];
    clearTimeout(timer);
    this.standIns.delete(clientId);
    const standIn = this.sessions.get(clientId);
    if (!standIn) return [];
    const queued = standIn.pending();
    standIn.takeShared(); // handed over below, not redispatched here
    this.destroySession(standIn, 'takeovered');
    return queued;
  }

  takeoverRest(clientId: string, deliveries: Delivery[]): void {
    const session = this.sessions.get(clientId);
    for (const d of deliveries) {
      if (session) session.deliver(d);
      else this.countDropped('no_subscribers');
    }
  }

  /** Puts a session moved from another node in place (before `openSession` attaches it). */
  installSession(state: SessionState): void {
    const old = this.sessions.get(state.clientId);
    if (old) this.destroySession(old, 'discarded');
    const session = Session.import(state, this.sessionLimits, this.sessionEvents);
    this.sessions.set(state.clientId, session);
    this.cluster.registerClient(state.clientId);
    for (const [fullFilter, opts] of session.subscriptions) {
      const filter = opts.share === undefined ? fullFilter : (parseSharedFilter(fullFilter) as { filter: string }).filter;
      const hadRoute = this.hasRoute(filter, opts.share);
      this.router.subscribe(state.clientId, filter, opts);
      if (!hadRoute) this.cluster.addRoute(filter, opts.share);
    }
    // offline until a connection attaches (openSession clears this): if the client went away
    // while its session was on the way, it expires here like any offline session
    if (state.expiryInterval !== 0xffffffff) {
      session.expiresAt = Date.now() + state.expiryInterval * 1000;
      session.expiryTimer = setTimeout(() => this.expireSession(session), Math.min(state.expiryInterval * 1000, 2 ** 31 - 1));
      session.expiryTimer.unref();
    }
  }

  retainLocal(msg: Message): void {
    this.retainer.retain(msg);
  }

  retainedMessages(): Message[] {
    const now = Date.now();
    return [...this.retainer.topics()].flatMap((t) => this.retainer.match(t, now));
  }

  localRoutes(): { filter: string; group: string | undefined }[] {
    const out: { filter: string; group: string | undefined }[] = [];
    for (const [filter] of this.router.direct.all()) out.push({ filter, group: undefined });
    for (const [filter, groups] of this.router.shared.all()) for (const g of groups.keys()) out.push({ filter, group: g });
    return out;
  }

  // per-publish state for the trie visitors: no closure allocated per message
  private curMsg: Message | undefined;
  private curCount = 0;
  private curFrom: Channel | undefined;
  private curElsewhere: ReadonlySet<string> | undefined;

  private readonly visitDirect = (clientId: string, opts: SubOptions): void => {
    const msg = this.curMsg!;
    if (opts.nl && clientId === msg.from) return;
    if (this.options.mqtt.ignoreLoopDeliver && clientId === msg.from) return;
    const session = this.sessions.get(clientId);
    if (!session) return;
    if (opts.aclCheck && !this.deliveryAllowed(clientId, msg.topic)) return;
    this.curCount++;
    session.deliver({
      msg,
      qos: this.grantQos(msg.qos, opts.qos),
      retain: opts.rap ? msg.retain : false,
      subIds: opts.subId ? [opts.subId] : undefined,
      share: undefined,
    });
  };

  private readonly visitShared = (_group: string, group: import('./shared.js').SharedGroup): void => {
    if (this.curElsewhere?.has(group.key)) return;
    const msg = this.curMsg!;
    const strategy = this.options.mqtt.sharedSubscriptionStrategy;
    const counters = this.curFrom ? (this.curFrom.rrCounters ??= new Map()) : this.brokerRr;
    let rr = counters.get(group.key);
    if (!rr) counters.set(group.key, (rr = { value: 0 }));
    const chosen = this.pickMember(group, strategy, rr, msg, undefined);
    if (!chosen) return;
    this.curCount++;
    this.deliverShared(group, chosen, msg);
  };

  private pickMember(
    group: import('./shared.js').SharedGroup,
    strategy: BrokerOptions['mqtt']['sharedSubscriptionStrategy'],
    rr: { value: number },
    msg: Message,
    exclude: string | undefined,
  ): string | undefined {
    // prefer connected members; fall back to any (its session queues the message)
    const online = group.pick(strategy, rr, msg.from, msg.topic, (id) => id !== exclude && this.channels.has(id));
    return online ?? group.pick(strategy, rr, msg.from, msg.topic, (id) => id !== exclude && this.sessions.has(id));
  }

  private deliverShared(group: import('./shared.js').SharedGroup, clientId: string, msg: Message): void {
    const opts = group.members.get(clientId)!;
    if (opts.aclCheck && !this.deliveryAllowed(clientId, msg.topic)) return;
    this.sessions.get(clientId)?.deliver({
      msg,
      qos: this.grantQos(msg.qos, opts.qos),
      retain: opts.rap ? msg.retain : false,
      subIds: opts.subId ? [opts.subId] : undefined,
      share: group.key,
    });
  }

  /** Gives undelivered QoS 1/2 messages of a leaving shared member to other members of their group. */
  private redispatchShared(from: Session, deliveries: Delivery[]): void {
    for (const d of deliveries) {
      const slash = d.share!.indexOf('/');
      const groupName = d.share!.slice(0, slash);
      const filter = d.share!.slice(slash + 1);
      const group = this.router.sharedGroup(groupName, filter);
      const chosen = group && this.pickMember(group, 'random', { value: 0 }, d.msg, from.clientId);
      if (group && chosen) {
        this.logger.debug({ clientid: from.clientId, to: chosen, topic: d.msg.topic }, 'Redispatched shared message');
        this.deliverShared(group, chosen, d.msg);
      } else if (from.outlet === undefined && this.sessions.get(from.clientId) === from) {
        // nobody else in the group: keep it with the (persistent) session
        from.deliver(d);
      } else this.onSessionDrop(from, d, 'no_subscribers');
    }
  }

  /** A marked subscription's message (SubOptions.aclCheck): may this client receive it? */
  private deliveryAllowed(clientId: string, topic: string): boolean {
    const check = this.options.hooks.authorizeDelivery;
    return check === undefined || check(clientId, topic);
  }

  countDropped(reason: string): void {
    this.stats.msgDropped++;
    this.stats.droppedBy.set(reason, (this.stats.droppedBy.get(reason) ?? 0) + 1);
  }

  private onSessionDrop(session: Session, d: Delivery, reason: DropReason): void {
    this.countDropped(reason);
    if (reason === 'queue_full') {
      this.logger.warn(
        { clientid: session.clientId, topic: d.msg.topic, qos: d.qos, max_mqueue_len: this.options.mqtt.maxMqueueLen },
        'Dropped msg due to mqueue is full',
      );
    }
    if (this.listenerCount('message.dropped') > 0) this.emit('message.dropped', d.msg, reason);
    if (this.listenerCount('delivery.dropped') > 0) this.emit('delivery.dropped', session.clientId, d.msg, reason);
  }

  // ── admin ──────────────────────────────────────────────────────────────────

  /** Starts a trace; connected clients it matches are followed from their next packet. */
  startTrace(spec: TraceSpec): Trace {
    const t = this.tracer.start(spec);
    this.refreshTraces();
    this.logger.info({ trace: spec.name, type: spec.type, filter: spec.filter, file: spec.file }, 'Trace started');
    this.emit('trace.changed');
    return t;
  }

  stopTrace(name: string): boolean {
    const stopped = this.tracer.stop(name);
    if (stopped) {
      this.refreshTraces();
      this.logger.info({ trace: name }, 'Trace stopped');
      this.emit('trace.changed');
    }
    return stopped;
  }

  private refreshTraces(): void {
    for (const ch of this.channels.values()) ch.traces = this.tracer.forClient(ch.clientId, hostOf(ch.peer));
  }

  /** Disconnects a client (DISCONNECT 0x98 in v5) and ends its session; logs `kicked`. */
  kick(clientId: string): boolean {
    const ch = this.channels.get(clientId);
    const session = this.sessions.get(clientId);
    if (!ch && !session) return false;
    this.stats.kicks++;
    this.logger.info({ clientid: clientId, reason: 'kicked' }, 'Client kicked');
    // the server closes the connection and the session ends: the will goes out now, delay or not
    // [MQTT-3.1.2-8] (EMQX does the same for `kicked`)
    if (ch) ch.close('kicked', RC.ADMINISTRATIVE_ACTION);
    const s = this.sessions.get(clientId);
    if (s) this.destroySession(s, 'kicked');
    this.wills.fireNow(clientId);
    return true;
  }

  /** Stops accepting, sends DISCONNECT 0x8B to v5 clients, closes every connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sys.stop();
    this.tracer.closeAll();
    if (this.housekeeping) clearInterval(this.housekeeping);
    clearInterval(this.expirySweep);
    const closingListeners = Promise.all(this.mqttListeners.map((l) => l.close()));
    for (const ch of [...this.allChannels]) {
      // a broker shutting down is not the client's fault: no will (EMQX does the same on shutdown)
      ch.will = undefined;
      ch.close('shutdown', RC.SERVER_SHUTTING_DOWN);
    }
    this.wills.clear();
    for (const s of this.sessions.values()) s.close();
    await closingListeners;
    // the last word on every persistent session (their connections just closed), then the store
    for (const s of this.sessions.values()) if (s.expiryInterval !== 0 && !this.standIns.has(s.clientId)) this.persistSession(s);
    await this.options.store.close();
    await this.cluster.close();
    this.logger.info('Broker stopped');
  }
}

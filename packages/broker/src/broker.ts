import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type pino from 'pino';
import { Channel } from './channel/channel.js';
import { newClientLimitCounters } from './limits/counters.js';
import { inputLimiter } from './limits/input-limiter.js';
import type { ListenerRates } from './limits/listener-rates.js';
import { MqttListeners } from './node/mqtt-listeners.js';
import type { ChannelContext, ConnectedClient } from './channel/context.js';
import { ConnectionManager } from './cm/manager.js';
import { ClientRegistry } from './cm/registry.js';
import { RemoteTakeover } from './cm/takeover.js';
import { WillScheduler } from './cm/wills.js';
import { LocalCluster } from './cluster.js';
import type { ClusterHost, ClusterLink } from './cluster.js';
import type { BrokerEvents, PublishRequest } from './events.js';
import type { ClientInfo } from './hooks.js';
import { newMessageId } from './message.js';
import type { Message } from './message.js';
import { clientView, clientViews, subscriptionViews, type ClientView, type SubscriptionView } from './node/client-view.js';
import { DeliveryLatency } from './node/delivery-latency.js';
import { startExpirySweep } from './node/expiry-sweep.js';
import { Stats } from './node/stats.js';
import { SysPublisher } from './node/sys.js';
import { resolveOptions } from './options.js';
import type { BrokerConfig, BrokerOptions, ListenerOptions } from './options.js';
import { restore } from './persistence/restore.js';
import { SessionPersister } from './persistence/session-writer.js';
import { Dispatcher } from './routing/dispatch.js';
import { Retainer } from './routing/retainer.js';
import { Router } from './routing/router.js';
import { Routes } from './routing/routes.js';
import { Subscriptions } from './routing/subscriptions.js';
import type { Session } from './session/session.js';
import type { Delivery, SessionState } from './session/types.js';
import type { SubOptions } from './subscription.js';
import { Tracer, type Trace, type TraceSpec } from './trace.js';
import { LogThrottle } from './node/log-throttle.js';
import { hostOf } from './peer.js';
import { Connection } from './transport/connection.js';
import { GuardState } from './guard/guard-state.js';
import { RC } from '@vireo/mqtt';

export { ListenError } from './transport/listeners.js';
export type { BrokerEvents, DisconnectReason, PublishRequest } from './events.js';
export { resolveOptions } from './options.js';

/** Starts a node in-process: listeners up, ready for clients. */
export async function createBroker(config: BrokerConfig = {}): Promise<Broker> {
  const broker = new Broker(resolveOptions(config));
  await broker.start();
  return broker;
}

/**
 * One node: its lifecycle (start, listeners, close) and its public API — publishing, the
 * read-only queries admin and bridges use, admin actions, and the ClusterHost side the
 * cluster calls. The work is done by the parts it wires together (docs/architecture.md):
 * channel/ (protocol), cm/ (connections and sessions), routing/ (router and dispatch),
 * persistence/, node/ ($SYS, stats).
 */
export class Broker extends EventEmitter<BrokerEvents> implements ClusterHost {
  readonly logger: pino.Logger;
  /** Per-message log lines (drops, denials): once per client and `log.throttling.time_window`. */
  readonly logThrottle: LogThrottle;
  readonly stats = new Stats();
  /** Clients throttled by messages_rate / bytes_rate (limits/). */
  readonly clientRateLimited = newClientLimitCounters();
  /** Sampled publish → socket-write latency; off until the metrics endpoint starts it. */
  readonly deliveryLatency = new DeliveryLatency();
  readonly retainer = new Retainer();
  /** Overload protection and force_shutdown: the flag and limits the hot path reads, and their counters. */
  readonly guard = new GuardState();
  /** Client, topic and address traces (`vireo ctl trace`). */
  readonly tracer: Tracer;
  readonly cluster: ClusterLink;
  readonly startedAt = Date.now();
  private readonly router = new Router();
  private readonly registry = new ClientRegistry();
  private readonly routes: Routes;
  private readonly subs: Subscriptions;
  private readonly dispatcher: Dispatcher;
  private readonly persister: SessionPersister;
  private readonly wills: WillScheduler;
  private readonly sys: SysPublisher;
  private readonly cm: ConnectionManager;
  private readonly takeover: RemoteTakeover;
  private readonly ctx: ChannelContext;
  private readonly mqttListeners: MqttListeners;
  private housekeeping: NodeJS.Timeout | undefined;
  private expirySweep: NodeJS.Timeout | undefined;
  private closing = false;
  private listenState: 'closed' | 'opening' | 'open' = 'closed';
  /** Set while the node refuses new CONNECTs (evacuation): see setAdmission. */
  private admissionGate: (() => { serverReference: string | undefined } | undefined) | undefined;

  constructor(readonly options: BrokerOptions) {
    super();
    const { mqtt, store, nodeName } = options;
    this.logger = options.logger;
    this.mqttListeners = new MqttListeners(this.logger, this.clientRateLimited);
    this.logThrottle = new LogThrottle(this.logger, options.logThrottleWindow);
    this.tracer = new Tracer(nodeName, options.traceDir);
    this.retainer.store = store;
    this.retainer.limits = { maxRetainedMessages: mqtt.maxRetainedMessages, maxPayloadSize: mqtt.retainerMaxPayloadSize };
    this.retainer.log = this.logThrottle;
    this.cluster = options.cluster ?? new LocalCluster(nodeName);
    this.routes = new Routes(this.router, this.cluster);
    this.persister = new SessionPersister(store, (id) => this.registry.channels.has(id));
    this.subs = new Subscriptions(this.routes, this.persister, this, options.hooks);
    this.dispatcher = new Dispatcher(this.router, this.registry, this.retainer, this.cluster, this.stats, this.deliveryLatency, this, mqtt, options.hooks, this.logThrottle);
    this.wills = new WillScheduler((msg) => this.publish(msg));
    this.wills.store = store;
    this.sys = new SysPublisher({
      nodeName,
      options: options.sys,
      startedAt: this.startedAt,
      stats: this.stats,
      registry: this.registry,
      router: this.router,
      retainer: this.retainer,
      nodes: () => this.cluster.nodes(),
      publish: (msg) => this.publish(msg),
    });
    this.cm = new ConnectionManager({
      registry: this.registry,
      mqtt,
      stats: this.stats,
      latency: this.deliveryLatency,
      logger: this.logger,
      cluster: this.cluster,
      events: this,
      wills: this.wills,
      persister: this.persister,
      subscriptions: this.subs,
      dispatcher: this.dispatcher,
      sys: this.sys,
      countDisconnect: (listener, reason) => this.mqttListeners.countDisconnect(listener, reason),
    });
    this.takeover = new RemoteTakeover(this.cm, this.registry, this.routes, this.persister, this.dispatcher, this.cluster);
    this.ctx = this.channelContext();
    this.cluster.attach(this);
  }

  /** What every Channel of this node reaches the node through (one object, made once). */
  private channelContext(): ChannelContext {
    const { cm, dispatcher, subs, takeover, cluster } = this;
    return {
      mqtt: this.options.mqtt,
      hooks: this.options.hooks,
      store: this.options.store,
      stats: this.stats,
      logger: this.logger,
      logThrottle: this.logThrottle,
      tracer: this.tracer,
      guard: this.guard,
      wantsConnack: () => this.listenerCount('client.connack') > 0,
      connack: (info) => this.emit('client.connack', info),
      assignClientId: () => `vireo-${randomBytes(8).toString('hex')}`,
      admission: () => this.admissionGate?.(),
      claimClient: (clientId, cleanStart) => {
        const claim = cluster.claimClient(clientId, cleanStart);
        return claim?.then((moved) => {
          if (moved) takeover.install(moved);
        });
      },
      openSession: (ch, cleanStart, expiry) => cm.openSession(ch, cleanStart, expiry),
      connected: (ch) => cm.connected(ch),
      closed: (ch, reason) => cm.closed(ch, reason),
      aborted: (ch, reason) => cm.aborted(ch, reason),
      publish: (msg, from) => dispatcher.publish(msg, from),
      countDropped: (reason) => dispatcher.countDropped(reason),
      subscribe: (session, info, filter, opts) => subs.subscribe(session, info, filter, opts),
      unsubscribe: (session, info, filter) => subs.unsubscribe(session, info, filter),
      sendRetained: (session, filter, opts, isNew) => dispatcher.sendRetained(session, filter, opts, isNew),
    };
  }

  async start(): Promise<void> {
    const { store } = this.options;
    await restore({ store, retainer: this.retainer, registry: this.registry, cm: this.cm, persister: this.persister, routes: this.routes, wills: this.wills, logger: this.logger });
    if (this.options.listen) await this.listen();
    const sweep = Math.min(this.options.mqtt.awaitRelTimeout / 2, 30_000);
    this.housekeeping = setInterval(() => this.cm.sweepAwaitingRel(), Math.max(1000, sweep));
    this.housekeeping.unref();
    this.expirySweep = startExpirySweep(this.retainer, () => this.registry.sessions.values(), this.options.mqtt.msgClearInterval, this.logger);
    this.sys.start();
  }

  /**
   * Opens the MQTT listeners (once). `vireo start` calls it last, when the store, cluster, HTTP
   * API and rules are up: clients that connect at once (a load balancer's backlog, a restart
   * under load) meet a node with nothing else left to do. On a bind error none stays open.
   */
  async listen(): Promise<void> {
    if (this.listenState !== 'closed' || this.closing) return;
    this.listenState = 'opening';
    try {
      await this.mqttListeners.open(this.options.listeners, this.options.mqtt.maxPacketSize, (socket, peer, opts) => this.accept(socket, peer, opts));
    } catch (err) {
      this.listenState = 'closed';
      throw err;
    }
    this.listenState = 'open';
  }

  /** The MQTT listeners are open (`listen()` is done). */
  get listening(): boolean {
    return this.listenState === 'open';
  }

  private accept(socket: Duplex, peer: string, listener: ListenerOptions): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, peer, listener.name, this.options.mqtt.maxPacketSize, this.stats);
    const ch = new Channel(conn, this.ctx);
    conn.limiter = inputLimiter(conn, ch, listener, { logger: this.logger, counters: this.clientRateLimited });
    this.cm.accepted(ch);
  }

  addresses(): { name: string; type: ListenerOptions['type']; host: string; port: number }[] {
    return this.mqttListeners.addresses();
  }

  /** Listener state with connection counts and disconnects by reason. */
  listenerStats(): ReturnType<MqttListeners['stats']> {
    return this.mqttListeners.stats();
  }

  /** The limiters of listener `name` (`tcp:default`), or undefined when there is no such listener. */
  listenerRates(name: string): ListenerRates | undefined {
    const l = this.options.listeners.find((o) => o.name === name);
    return l && this.mqttListeners.rates(l);
  }

  /** Changes the limiters of listener `name` while it runs (docs/limits.md); false when there is no such listener. */
  setListenerRates(name: string, rates: ListenerRates): boolean {
    const l = this.options.listeners.find((o) => o.name === name);
    if (!l) return false;
    this.mqttListeners.setRates(
      l,
      rates,
      [...this.cm.all].filter((c): c is Channel => c instanceof Channel),
    );
    return true;
  }

  // ── publishing and subscribing ─────────────────────────────────────────────

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

  /** Routes one message to every matching subscription; returns how many local sessions got it. */
  publish(msg: Message): number {
    return this.dispatcher.publish(msg);
  }

  /** Subscribes a session (the API acting for a client); true when the subscription is new. */
  subscribe(session: Session, info: ClientInfo, fullFilter: string, opts: SubOptions): boolean {
    return this.subs.subscribe(session, info, fullFilter, opts);
  }

  unsubscribe(session: Session, info: ClientInfo, fullFilter: string): boolean {
    return this.subs.unsubscribe(session, info, fullFilter);
  }

  /** Retained messages for a new subscription, by its Retain Handling; never for shared ones. */
  sendRetained(session: Session, fullFilter: string, opts: SubOptions, isNew: boolean): void {
    this.dispatcher.sendRetained(session, fullFilter, opts, isNew);
  }

  // ── queries: read-only views for admin, bridges and embedders ──────────────

  /** The session of `clientId` on this node, connected or not. */
  session(clientId: string): Session | undefined {
    return this.registry.sessions.get(clientId);
  }

  /** The connection of `clientId`, while it is connected to this node. */
  connection(clientId: string): ConnectedClient | undefined {
    return this.registry.channels.get(clientId);
  }

  /** Sessions on this node, connected or not (EMQX `connections.count`). */
  get sessionCount(): number {
    return this.registry.sessions.size;
  }

  /** Connected clients (EMQX `live_connections.count`). */
  get connectionCount(): number {
    return this.registry.channels.size;
  }

  allSessions(): IterableIterator<Session> {
    return this.registry.sessions.values();
  }

  connections(): IterableIterator<ConnectedClient> {
    return this.registry.channels.values();
  }

  connectedClientIds(): string[] {
    return [...this.registry.channels.keys()];
  }

  /** Route table sizes: distinct filters, subscriptions (shared members included), shared ones. */
  routeCounts(): { topics: number; subscriptions: number; shared: number } {
    const subscriptions = this.router.subscriptionCount;
    return { topics: this.router.topicCount, subscriptions, shared: subscriptions - this.router.direct.size };
  }

  clientView(clientId: string): ClientView | undefined {
    return clientView(this.viewSource(), clientId);
  }

  clientViews(): IterableIterator<ClientView> {
    return clientViews(this.viewSource());
  }

  subscriptionViews(session: Session): SubscriptionView[] {
    return subscriptionViews(this.options.nodeName, session);
  }

  private viewSource() {
    return { nodeName: this.options.nodeName, mqtt: this.options.mqtt, registry: this.registry };
  }

  // ── the cluster's side (ClusterHost) ───────────────────────────────────────

  dispatchLocal(msg: Message, groups: readonly string[] | undefined): number {
    return this.dispatcher.dispatchLocal(msg, groups);
  }

  retainLocal(msg: Message): void {
    // a peer accepted it: stored whatever the count, so every node holds the same set (docs/limits.md)
    this.retainer.retain(msg, false);
  }

  retainedMessages(): Message[] {
    const now = Date.now();
    return [...this.retainer.topics()].flatMap((t) => this.retainer.match(t, now));
  }

  localRoutes(): { filter: string; group: string | undefined }[] {
    return this.routes.local();
  }

  nodesChanged(): void {
    if (this.closing) return;
    this.sys.nodesChanged();
    this.emit('cluster.nodes_changed', this.cluster.nodes());
  }

  localClients(): string[] {
    return [...this.registry.sessions.keys()];
  }

  takeoverBegin(clientId: string, cleanStart: boolean): SessionState | undefined {
    return this.takeover.begin(clientId, cleanStart);
  }

  takeoverEnd(clientId: string): Delivery[] {
    return this.takeover.end(clientId);
  }

  takeoverRest(clientId: string, deliveries: Delivery[]): void {
    this.takeover.rest(clientId, deliveries);
  }

  pushBegin(clientId: string): SessionState | undefined {
    return this.takeover.push(clientId);
  }

  pushInstall(state: SessionState): void {
    this.takeover.install(state, true);
    this.logger.info({ clientid: state.clientId, queued: state.mqueue.length, inflight: state.inflight.length }, 'Session received from an evacuating node');
  }

  pushFailed(state: SessionState): void {
    this.takeover.pushFailed(state);
  }

  // ── evacuation and rebalancing (@vireo/rebalance) ──────────────────────────

  /**
   * While `gate` returns a value, new CONNECTs are refused with CONNACK 0x9C (Use another
   * server; v5 with the Server Reference when one is given, 3.1.1: 3 server unavailable).
   * Undefined lifts it. Takeovers by other nodes still work: the sessions can leave.
   */
  setAdmission(gate: (() => { serverReference: string | undefined } | undefined) | undefined): void {
    this.admissionGate = gate;
  }

  /**
   * Disconnects a client so that it reconnects elsewhere: v5 gets DISCONNECT 0x9C (Use another
   * server) with `serverReference` when given, 3.1.1 is closed. Its session stays (offline) for
   * it to take over from another node; a will with a delay waits as for any disconnect, one
   * without is not sent (the client is not gone, it is moving, as at shutdown). Logged as
   * `use_another_server`. False when the client is not connected here.
   */
  evictConnection(clientId: string, serverReference?: string): boolean {
    const ch = this.registry.channels.get(clientId);
    if (!ch) return false;
    if (ch.will && ch.will.delay === 0) ch.will = undefined;
    ch.close('use_another_server', RC.USE_ANOTHER_SERVER, serverReference);
    return true;
  }

  // ── admin ──────────────────────────────────────────────────────────────────

  /** Starts a trace; connected clients it matches are followed from their next packet. */
  startTrace(spec: Omit<TraceSpec, 'file'> & { file?: string }): Trace {
    const t = this.tracer.start(spec);
    this.refreshTraces();
    this.logger.info({ trace: spec.name, type: spec.type, filter: spec.filter, file: t.spec.file }, 'Trace started');
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
    for (const ch of this.registry.channels.values()) ch.traces = this.tracer.forClient(ch.clientId, hostOf(ch.peer));
  }

  /**
   * Closes the connection `client` describes (v5: DISCONNECT `rc` first), if it is still the
   * clientid's current one; `reason` is logged and counted.
   */
  closeConnection(client: ClientInfo, reason: string, rc: number): boolean {
    const ch = this.registry.channels.get(client.clientId);
    if (!ch || ch.info !== client) return false;
    ch.close(reason, rc);
    return true;
  }

  /** Disconnects a client (DISCONNECT 0x98 in v5) and ends its session; logs `kicked`. */
  kick(clientId: string): boolean {
    return this.cm.kick(clientId);
  }

  /** Stops accepting, sends DISCONNECT 0x8B to v5 clients, closes every connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sys.stop();
    this.tracer.closeAll();
    if (this.housekeeping) clearInterval(this.housekeeping);
    clearInterval(this.expirySweep);
    const closingListeners = this.mqttListeners.close();
    this.cm.closeAll();
    await closingListeners;
    // the last word on every persistent session (their connections just closed), then the store
    for (const s of this.registry.sessions.values()) if (s.expiryInterval !== 0 && !this.takeover.isStandIn(s.clientId)) this.persister.persist(s);
    await this.options.store.close();
    await this.cluster.close();
    this.logThrottle.close();
    this.logger.info('Broker stopped');
  }
}

import { RC } from '@vireo/mqtt';
import type { Logger } from 'pino';
import type { ChannelHandle } from '../channel/context.js';
import type { ClusterLink } from '../cluster.js';
import type { EventSink } from '../events.js';
import type { Message } from '../message.js';
import type { DeliveryLatency } from '../node/delivery-latency.js';
import type { Stats } from '../node/stats.js';
import type { SysPublisher } from '../node/sys.js';
import type { MqttOptions } from '../options.js';
import type { SessionPersister } from '../persistence/session-writer.js';
import type { Dispatcher } from '../routing/dispatch.js';
import type { Subscriptions } from '../routing/subscriptions.js';
import { Session } from '../session/session.js';
import type { SessionEvents, SessionLimits } from '../session/types.js';
import type { ClientRegistry } from './registry.js';
import type { WillScheduler } from './wills.js';

/** setTimeout's longest delay (24.8 days); a longer expiry waits again for what is left. */
const MAX_TIMER = 2 ** 31 - 1;
/** A v5 Session Expiry Interval of 0xFFFFFFFF: the session never expires. */
export const NEVER_EXPIRES = 0xffffffff;

export interface ManagerDeps {
  registry: ClientRegistry;
  mqtt: MqttOptions;
  stats: Stats;
  latency: DeliveryLatency;
  logger: Logger;
  cluster: ClusterLink;
  events: EventSink;
  wills: WillScheduler;
  persister: SessionPersister;
  subscriptions: Subscriptions;
  dispatcher: Dispatcher;
  sys: SysPublisher;
  /** Counts a disconnect by reason on its listener. */
  countDisconnect(listener: string, reason: string): void;
}

/**
 * The connection manager (EMQX's emqx_cm): binds connections to sessions, closes an older
 * connection of the same clientid (local takeover), ends sessions and arms their expiry.
 * Takeover across nodes is in takeover.ts.
 */
export class ConnectionManager {
  /** Every connection, CONNECT done or not (closed at shutdown). */
  readonly all = new Set<ChannelHandle>();
  readonly sessionLimits: SessionLimits;
  readonly sessionEvents: SessionEvents;

  constructor(private readonly d: ManagerDeps) {
    const { mqtt, stats, latency, events } = d;
    this.sessionLimits = { maxInflight: mqtt.maxInflight, maxMqueueLen: mqtt.maxMqueueLen, maxMqueueBytes: mqtt.maxMqueueBytes, mqueueStoreQos0: mqtt.mqueueStoreQos0 };
    this.sessionEvents = {
      onDrop: (s, dl, reason) => d.dispatcher.onSessionDrop(s, dl, reason),
      onDelivered: (s, dl) => {
        stats.delivered++;
        if (dl.msg.sampledAt !== undefined) latency.delivered(dl.msg.sampledAt);
        if (events.listenerCount('message.delivered') > 0) events.emit('message.delivered', s.clientId, dl.msg);
      },
      onAcked: (s, dl) => {
        stats.acked++;
        if (events.listenerCount('message.acked') > 0) events.emit('message.acked', s.clientId, dl.msg);
      },
    };
  }

  accepted(ch: ChannelHandle): void {
    this.all.add(ch);
    if (this.all.size > this.d.stats.connectionsMax) this.d.stats.connectionsMax = this.all.size;
  }

  newSession(clientId: string, expiryInterval: number): Session {
    return new Session(clientId, expiryInterval, this.sessionLimits, this.sessionEvents);
  }

  /**
   * Binds a connecting channel to its session. An existing connection of the same clientid
   * is closed: `takeovered` when the session goes on, `discarded` on clean start.
   */
  openSession(ch: ChannelHandle, cleanStart: boolean, expiryInterval: number): { session: Session; present: boolean } {
    const { registry, cluster } = this.d;
    const clientId = ch.clientId;
    this.settleWill(clientId, cleanStart);
    const old = registry.channels.get(clientId);
    if (old && old !== ch) this.displace(old, cleanStart, ch.peer);
    let session = registry.sessions.get(clientId);
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
      session = this.newSession(clientId, expiryInterval);
      registry.sessions.set(clientId, session);
    }
    // every CONNECT claims the clientid anew: after a partition the newest connection wins
    cluster.registerClient(clientId);
    registry.channels.set(clientId, ch);
    this.d.persister.persist(session);
    return { session, present };
  }

  /**
   * A delayed will waiting for this clientid: a reconnect to the session cancels it
   * [MQTT-3.1.3-9]; clean start ends the session, which publishes it now [MQTT-3.1.2-8].
   */
  settleWill(clientId: string, cleanStart: boolean): void {
    if (cleanStart) this.d.wills.fireNow(clientId);
    else this.d.wills.cancel(clientId);
  }

  /**
   * Closes the current connection of a clientid that connects again (here or, `newPeer`
   * undefined, on another node): `takeovered` when its session goes on, `discarded` on clean start.
   */
  displace(old: ChannelHandle, cleanStart: boolean, newPeer: string | undefined): void {
    const { registry, stats, logger } = this.d;
    const reason = cleanStart ? 'discarded' : 'takeovered';
    if (cleanStart) stats.discards++;
    else stats.takeovers++;
    if (newPeer === undefined) logger.info({ clientid: old.clientId, peer: old.peer, reason }, `Session ${reason} by another node`);
    else logger.info({ clientid: old.clientId, peer: old.peer, new_peer: newPeer, reason }, `Session ${reason}`);
    // the old connection's will (MQTT 5 §3.1.4, as EMQX): sent unless the session continues (clean start 0)
    // and the will has a delay; a discarded session ends, so its will goes out
    if (!cleanStart && old.will && old.will.delay > 0) old.will = undefined;
    registry.channels.delete(old.clientId);
    old.session?.detach();
    old.close(reason, RC.SESSION_TAKEN_OVER);
  }

  /** The delayed will waiting for `clientId`, taken away (its session is pushed to another node). */
  takeWill(clientId: string): { msg: Message; fireAt: number } | undefined {
    return this.d.wills.take(clientId);
  }

  /** A delayed will that came with a pushed session. */
  adoptWill(clientId: string, msg: Message, fireAt: number): void {
    this.d.wills.adopt(clientId, msg, fireAt);
  }

  connected(ch: ChannelHandle): void {
    const { stats, logger, events } = this.d;
    stats.connected++;
    logger.info({ clientid: ch.clientId, peer: ch.peer, username: ch.username, proto_ver: ch.protocolVersion, keepalive: ch.keepalive }, 'Client connected');
    this.d.sys.clientConnected(ch);
    if (events.listenerCount('client.connected') > 0) events.emit('client.connected', ch.info);
  }

  /** A connected channel's socket is gone: will, session detach or end, counters, events. */
  closed(ch: ChannelHandle, reason: string): void {
    const { registry, stats, logger, events, wills } = this.d;
    this.all.delete(ch);
    this.d.countDisconnect(ch.listener, reason);
    stats.disconnected++;
    const session = ch.session;
    const current = registry.channels.get(ch.clientId) === ch;
    if (current) registry.channels.delete(ch.clientId);
    logger.info({ clientid: ch.clientId, peer: ch.peer, reason }, 'Client disconnected');
    if (session && current) {
      session.detach();
      const expiry = session.expiryInterval;
      if (ch.will) wills.schedule(ch.clientId, ch.will.msg, Math.min(ch.will.delay, expiry));
      // messages a shared group gave this member go to another member now
      this.d.dispatcher.redispatchShared(session, session.takeShared());
      if (expiry === 0) this.destroySession(session, reason);
      else if (expiry !== NEVER_EXPIRES) this.armExpiry(session, Date.now() + expiry * 1000);
      if (expiry !== 0) this.d.persister.persist(session);
    } else if (ch.will) {
      wills.schedule(ch.clientId, ch.will.msg, 0);
    }
    this.d.sys.clientDisconnected(ch, reason);
    if (events.listenerCount('client.disconnected') > 0) events.emit('client.disconnected', ch.info, reason);
  }

  /** A channel that never completed CONNECT is gone. */
  aborted(ch: ChannelHandle, reason: string): void {
    this.all.delete(ch);
    this.d.countDisconnect(ch.listener, reason);
  }

  /** The one place an offline session's expiry is armed (`expiresAt`: ms since the epoch). */
  armExpiry(session: Session, expiresAt: number): void {
    session.expiresAt = expiresAt;
    session.expiryTimer = setTimeout(expireTimer, Math.min(expiresAt - Date.now(), MAX_TIMER), this, session);
    session.expiryTimer.unref();
  }

  expireSession(session: Session): void {
    if (this.d.registry.sessions.get(session.clientId) !== session || session.outlet) return;
    // timers top out at 2^31 ms (24.8 days): a longer expiry waits again for what is left
    if (session.expiresAt > 0 && session.expiresAt > Date.now()) return this.armExpiry(session, session.expiresAt);
    this.d.logger.info({ clientid: session.clientId }, 'Session expired');
    this.d.wills.fireNow(session.clientId);
    this.destroySession(session, 'expired');
  }

  /** Ends a session: its subscriptions leave the router; undelivered shared messages go to other members. */
  destroySession(session: Session, reason: string): void {
    const { registry, cluster } = this.d;
    if (registry.sessions.get(session.clientId) === session) {
      cluster.unregisterClient(session.clientId);
      registry.sessions.delete(session.clientId);
      this.d.persister.drop(session);
    }
    const pending = session.pending().filter((dl) => dl.share && dl.qos > 0);
    this.d.subscriptions.removeAll(session);
    session.close();
    this.d.dispatcher.redispatchShared(session, pending);
    this.d.logger.debug({ clientid: session.clientId, reason }, 'Session terminated');
  }

  /** Disconnects a client (DISCONNECT 0x98 in v5) and ends its session; logs `kicked`. */
  kick(clientId: string): boolean {
    const { registry, stats, logger, wills } = this.d;
    const ch = registry.channels.get(clientId);
    if (!ch && !registry.sessions.has(clientId)) return false;
    stats.kicks++;
    logger.info({ clientid: clientId, reason: 'kicked' }, 'Client kicked');
    // the server closes the connection and the session ends: the will goes out now, delay or not
    // [MQTT-3.1.2-8] (EMQX does the same for `kicked`)
    if (ch) ch.close('kicked', RC.ADMINISTRATIVE_ACTION);
    const s = registry.sessions.get(clientId);
    if (s) this.destroySession(s, 'kicked');
    wills.fireNow(clientId);
    return true;
  }

  /** Drops incoming QoS 2 messages that waited for PUBREL longer than await_rel_timeout. */
  sweepAwaitingRel(): void {
    const deadline = Date.now() - this.d.mqtt.awaitRelTimeout;
    for (const s of this.d.registry.sessions.values()) {
      if (s.awaitingRel.size === 0) continue;
      for (const [pid, at] of s.awaitingRel) {
        if (at > deadline) continue;
        s.deleteAwaitingRel(pid);
        this.d.logger.warn({ clientid: s.clientId, packet_id: pid }, 'Dropped qos2 packet due to await_rel_timeout');
      }
    }
  }

  /** Shutdown: DISCONNECT 0x8B to v5 clients, every connection closed, no wills, timers stopped. */
  closeAll(): void {
    for (const ch of [...this.all]) {
      // a broker shutting down is not the client's fault: no will (EMQX does the same on shutdown)
      ch.will = undefined;
      ch.close('shutdown', RC.SERVER_SHUTTING_DOWN);
    }
    this.d.wills.clear();
    for (const s of this.d.registry.sessions.values()) s.close();
  }
}

function expireTimer(cm: ConnectionManager, session: Session): void {
  cm.expireSession(session);
}

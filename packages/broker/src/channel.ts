import { isUtf8 as bufferIsUtf8 } from 'node:buffer';
import { encode } from './codec.js';
import { payloadFields, type Trace } from './trace.js';
import { hostOf } from './peer.js';
import type {
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPublishPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  Packet,
} from 'mqtt-packet';
import { RC, connackCodeV4, parseSharedFilter, topicFilterError, topicNameError } from '@vireo/mqtt';
import type { Broker } from './broker.js';
import type { Connection, ConnectionHandler } from './connection.js';
import type { ClientInfo } from './hooks.js';
import { messageFromPublish } from './message.js';
import type { Message } from './message.js';
import { encodePublish } from './publish-encoder.js';
import { ProtocolViolation } from './strict-parser.js';
import type { Delivery, Outlet, Session } from './session.js';
import type { PacketType } from './stats.js';
import type { SubOptions } from './subscription.js';

type State = 'connecting' | 'authenticating' | 'connected' | 'closed';

/** Will message with its delay, held until the connection ends. */
export interface Will {
  msg: Message;
  delay: number;
}

const SESSION_NEVER_EXPIRES = 0xffffffff;
/** Over this many bytes waiting for a client's socket, QoS 0 messages to it are dropped. */
const QOS0_BACKLOG_LIMIT = 1024 * 1024;

const ACK_PUBACK = 0x40;
const ACK_PUBREC = 0x50;
const ACK_PUBREL = 0x62;
const ACK_PUBCOMP = 0x70;
const PINGRESP = Buffer.from([0xd0, 0x00]);
const ACK_NAMES: Record<number, string> = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp' };

/**
 * The MQTT protocol state machine of one connection: CONNECT and auth, QoS handshakes,
 * topic aliases, flow control, subscriptions. It is the session's outlet while connected.
 */
export class Channel implements ConnectionHandler, Outlet {
  state: State = 'connecting';
  clientId = '';
  username: string | undefined;
  protocolVersion: 3 | 4 | 5 = 4;
  keepalive = 0;
  session: Session | undefined;
  will: Will | undefined;
  connectedAt = 0;
  receiveMaximum = 65535;
  /** Largest packet the client accepts (v5 Maximum Packet Size). */
  private clientMaxPacket = 0;
  private topicAliases: Map<number, string> | undefined;
  private problemInfo = true;
  private pendingPackets: Packet[] | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Round-robin counters of this publisher per shared group (EMQX's `round_robin`). */
  rrCounters: Map<string, { value: number }> | undefined;
  /** Traces following this client (by client id or address); undefined when none, the usual case. */
  traces: Trace[] | undefined;
  info!: ClientInfo;
  /** Reason given to the session/logs when the broker closes the connection. */
  private disconnectReason: string | undefined;
  private sessionExpiryAtConnect = 0;
  /** The CONNECT, kept only while someone listens to `client.connack`. */
  private connectPacket: IConnectPacket | undefined;
  v5 = false;
  /** The write backlog was over QOS0_BACKLOG_LIMIT at the last QoS 0 delivery. */
  private slowReader = false;

  constructor(
    readonly conn: Connection,
    private readonly broker: Broker,
  ) {
    conn.handler = this;
    this.idleTimer = setTimeout(idleTimeout, broker.options.mqtt.idleTimeout, this);
  }

  get peer(): string {
    return this.conn.peer;
  }

  // ── inbound ────────────────────────────────────────────────────────────────

  onPacket(packet: Packet): void {
    if (this.pendingPackets) {
      this.pendingPackets.push(packet);
      return;
    }
    if (packet.length !== undefined && packet.length > this.broker.options.mqtt.maxPacketSize) {
      return this.onPacketTooLarge(packet.length);
    }
    const stats = this.broker.stats;
    stats.packetsIn++;
    stats.packetsReceived[packet.cmd]++;
    // publish, subscribe and connect trace their own richer events
    if (this.traces && packet.cmd !== 'publish' && packet.cmd !== 'connect' && packet.cmd !== 'subscribe' && packet.cmd !== 'unsubscribe') {
      this.trace(`${packet.cmd}_in`, { packet_id: packet.messageId ?? null, reason_code: (packet as { reasonCode?: number }).reasonCode ?? null });
    }
    switch (packet.cmd) {
      case 'publish':
        return this.state === 'connected' ? this.onPublish(packet) : this.protocolError('publish before connect');
      case 'puback':
        if (this.session && !this.session.puback(packet.messageId!)) this.debug('PUBACK for unknown packet id', packet.messageId);
        return;
      case 'pubrec':
        if (this.session && !this.session.pubrec(packet.messageId!, (packet.reasonCode ?? 0) >= 0x80)) {
          // v5: answer an unknown id with PUBREL 0x92 so the client can finish
          this.writePacket({ cmd: 'pubrel', messageId: packet.messageId, reasonCode: RC.PACKET_IDENTIFIER_NOT_FOUND });
        }
        return;
      case 'pubrel':
        return this.onPubrel(packet.messageId!);
      case 'pubcomp':
        if (this.session && !this.session.pubcomp(packet.messageId!)) this.debug('PUBCOMP for unknown packet id', packet.messageId);
        return;
      case 'subscribe':
        return this.state === 'connected' ? this.onSubscribe(packet) : this.protocolError('subscribe before connect');
      case 'unsubscribe':
        return this.state === 'connected' ? this.onUnsubscribe(packet) : this.protocolError('unsubscribe before connect');
      case 'pingreq':
        if (this.state !== 'connected') return this.protocolError('pingreq before connect');
        this.broker.stats.packetsOut++;
        this.broker.stats.packetsSent.pingresp++;
        this.conn.write(PINGRESP);
        return;
      case 'disconnect':
        return this.onDisconnect(packet);
      case 'connect':
        if (this.state === 'connecting') return void this.onConnect(packet).catch((err) => this.onHandlerError(err));
        // a second CONNECT [MQTT-3.1.0-2]
        return this.protocolError('unexpected CONNECT', 'proto_unexpected_c');
      case 'auth':
        // enhanced authentication is not offered, so AUTH is never expected
        return this.protocolError('unexpected AUTH');
      default:
        return this.protocolError(`unexpected ${packet.cmd}`);
    }
  }

  onParseError(err: Error, data: Buffer): void {
    this.broker.logger.warn(
      { clientid: this.clientId || undefined, peer: this.peer, reason: err.message, frame_data: data.toString('hex') },
      'Parse failed',
    );
    if (this.state === 'connecting' && /protocol version|protocolId/.test(err.message)) {
      // CONNACK "unacceptable protocol version" in 3.1.1 form, which every version can read
      this.conn.write(encode({ cmd: 'connack', returnCode: 1, sessionPresent: false }, { protocolVersion: 4 }));
      return this.close('frame_error');
    }
    this.disconnectWith(err instanceof ProtocolViolation ? RC.PROTOCOL_ERROR : RC.MALFORMED_PACKET, 'frame_error');
  }

  onHandlerError(err: unknown): void {
    this.broker.logger.error({ clientid: this.clientId || undefined, peer: this.peer, err }, 'Packet handling failed');
    this.disconnectWith(RC.UNSPECIFIED_ERROR, 'internal_error');
  }

  onKeepaliveTimeout(): void {
    this.close('keepalive_timeout', RC.KEEP_ALIVE_TIMEOUT);
  }

  onPacketTooLarge(size: number): void {
    this.broker.logger.warn(
      { clientid: this.clientId || undefined, peer: this.peer, size, max: this.broker.options.mqtt.maxPacketSize },
      'Packet too large',
    );
    this.disconnectWith(RC.PACKET_TOO_LARGE, 'frame_too_large');
  }

  onClose(reason: string): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.traces) this.trace('disconnect', { reason: this.disconnectReason ?? reason });
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    if (wasConnected) this.broker.channelClosed(this, this.disconnectReason ?? reason);
    else this.broker.channelAborted(this, this.disconnectReason ?? reason);
  }

  private async onConnect(p: IConnectPacket): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const opts = this.broker.options.mqtt;
    this.protocolVersion = (p.protocolVersion ?? 4) as 3 | 4 | 5;
    this.v5 = this.protocolVersion === 5;
    this.conn.setProtocolVersion(this.protocolVersion);
    if (this.broker.listenerCount('client.connack') > 0) this.connectPacket = p;
    const props = p.properties;
    let clientId = p.clientId ?? '';
    let assigned = false;
    const clean = p.clean !== false;
    if (props?.receiveMaximum === 0 || props?.maximumPacketSize === 0) return this.refuse(RC.PROTOCOL_ERROR, 'zero receive maximum or packet size');
    if (props?.authenticationMethod) return this.refuse(RC.BAD_AUTHENTICATION_METHOD, 'enhanced authentication not supported');
    if (clientId.length === 0) {
      // 3.1 requires an id; 3.1.1 allows none only with a clean session; v5 assigns one
      if (this.protocolVersion === 3 || (this.protocolVersion === 4 && !clean)) return this.refuse(RC.CLIENT_IDENTIFIER_NOT_VALID, 'empty clientid');
      clientId = this.broker.assignClientId();
      assigned = true;
    }
    if (clientId.length > opts.maxClientidLen || (this.protocolVersion === 3 && clientId.length > 23)) {
      return this.refuse(RC.CLIENT_IDENTIFIER_NOT_VALID, 'clientid too long');
    }
    this.clientId = clientId;
    this.username = p.username;
    this.keepalive = p.keepalive ?? 0;
    this.receiveMaximum = props?.receiveMaximum ?? 65535;
    this.clientMaxPacket = props?.maximumPacketSize ?? 0;
    this.problemInfo = props?.requestProblemInformation !== false;
    this.info = { clientId, username: p.username, peer: this.peer, protocolVersion: this.protocolVersion, listener: this.conn.listener };
    this.traces = this.broker.tracer.forClient(clientId, hostOf(this.peer));
    if (this.traces) {
      this.trace('connect', {
        peer: this.peer,
        username: p.username ?? null,
        proto_ver: this.protocolVersion,
        keepalive: this.keepalive,
        clean_start: clean,
        will: p.will ? { topic: p.will.topic, qos: p.will.qos ?? 0, retain: !!p.will.retain } : null,
        properties: props ?? null,
      });
    }

    if (p.will) {
      const w = p.will;
      const err = topicNameError(w.topic, { maxLevels: opts.maxTopicLevels, maxLength: opts.maxTopicLength });
      if (err) return this.refuse(this.v5 ? RC.TOPIC_NAME_INVALID : RC.UNSPECIFIED_ERROR, `will topic: ${err}`);
      if ((w.qos ?? 0) > opts.maxQosAllowed) return this.refuse(RC.QOS_NOT_SUPPORTED, 'will QoS not supported');
      if (w.retain && !opts.retainAvailable) return this.refuse(RC.RETAIN_NOT_SUPPORTED, 'will retain not supported');
      const msg = messageFromPublish(
        { cmd: 'publish', topic: w.topic, payload: w.payload, qos: w.qos ?? 0, retain: !!w.retain, dup: false, properties: w.properties },
        w.topic,
        clientId,
        Date.now(),
      );
      this.will = { msg, delay: w.properties?.willDelayInterval ?? 0 };
    }

    // session expiry: v5 from the CONNECT (0 = ends with the connection); 3.1.1 persistent sessions get the configured interval
    let expiry: number;
    if (this.v5) expiry = props?.sessionExpiryInterval ?? 0;
    else expiry = clean ? 0 : Math.round(opts.sessionExpiryInterval / 1000);
    this.sessionExpiryAtConnect = expiry;

    const hook = this.broker.options.hooks.authenticate;
    if (hook) {
      this.state = 'authenticating';
      this.pendingPackets = [];
      let result;
      try {
        result = await hook({ ...this.info, password: p.password });
      } catch (err) {
        this.broker.logger.error({ clientid: clientId, peer: this.peer, err }, 'authenticate hook failed');
        result = { ok: false as const, reasonCode: RC.UNSPECIFIED_ERROR };
      }
      if (this.conn.closed) return;
      if (!result.ok) {
        this.broker.stats.authFailure++;
        this.pendingPackets = undefined;
        return this.refuse(result.reasonCode ?? RC.NOT_AUTHORIZED, 'authentication failed');
      }
      this.broker.stats.authSuccess++;
      if (result.isSuperuser) this.info.isSuperuser = true;
    }

    // a session of this clientid on another node: ended there (clean start) or moved here
    const claim = this.broker.cluster.claimClient(clientId, clean);
    if (claim) {
      this.state = 'authenticating';
      this.pendingPackets ??= [];
      const moved = await claim;
      if (moved) this.broker.installSession(moved);
      if (this.conn.closed) return;
    }
    const { session, present } = this.broker.openSession(this, clean, expiry);
    this.session = session;
    this.state = 'connected';
    this.connectedAt = Date.now();

    const connack: IConnackPacket = { cmd: 'connack', sessionPresent: present };
    if (this.v5) {
      connack.reasonCode = 0;
      const cp: NonNullable<IConnackPacket['properties']> = {
        receiveMaximum: opts.maxAwaitingRel > 0 ? Math.min(opts.maxAwaitingRel, 65535) : 65535,
        maximumPacketSize: opts.maxPacketSize,
        topicAliasMaximum: opts.maxTopicAlias,
        retainAvailable: opts.retainAvailable,
        wildcardSubscriptionAvailable: opts.wildcardSubscription,
        sharedSubscriptionAvailable: opts.sharedSubscription,
        subscriptionIdentifiersAvailable: true,
      };
      if (opts.maxQosAllowed < 2) cp.maximumQoS = opts.maxQosAllowed;
      if (assigned) cp.assignedClientIdentifier = clientId;
      if (opts.serverKeepalive > 0) {
        cp.serverKeepAlive = opts.serverKeepalive;
        this.keepalive = opts.serverKeepalive;
      }
      if (props?.requestResponseInformation && opts.responseInformation) cp.responseInformation = opts.responseInformation;
      connack.properties = cp;
    } else connack.returnCode = 0;
    this.writePacket(connack);
    if (this.traces) this.trace('connack', { reason_code: 0, session_present: present });
    if (this.connectPacket) this.emitConnack(0);

    if (this.keepalive > 0) {
      this.conn.startKeepalive(this.keepalive * 1000 * opts.keepaliveMultiplier);
    }
    this.broker.channelConnected(this);
    // v5 retransmits only on reconnect [MQTT-4.4.0-1]; 3.1.1 also on retry_interval
    session.attach(this, this.v5 ? 0 : opts.retryInterval);

    const queued = this.pendingPackets;
    this.pendingPackets = undefined;
    if (queued) for (const q of queued) if (!this.conn.closed) this.onPacket(q);
  }

  private emitConnack(rc: number): void {
    const p = this.connectPacket!;
    this.connectPacket = undefined;
    this.broker.emit('client.connack', {
      clientId: this.clientId,
      username: p.username,
      peer: this.peer,
      protocolVersion: this.protocolVersion,
      listener: this.conn.listener,
      reasonCode: rc,
      keepalive: p.keepalive ?? 0,
      cleanStart: p.clean !== false,
      expiryInterval: this.sessionExpiryAtConnect,
      connProps: p.properties as Record<string, unknown> | undefined,
    });
  }

  /** CONNACK with an error and close. */
  private refuse(rc: number, why: string): void {
    this.broker.logger.info({ clientid: this.clientId || undefined, peer: this.peer, reason_code: rc, why }, 'Connection refused');
    const connack: IConnackPacket = { cmd: 'connack', sessionPresent: false };
    if (this.v5) {
      connack.reasonCode = rc;
      if (this.problemInfo) connack.properties = { reasonString: why };
    } else connack.returnCode = connackCodeV4(rc);
    this.writePacket(connack);
    if (this.traces) this.trace('connack', { reason_code: rc, why });
    if (this.connectPacket) this.emitConnack(rc);
    this.will = undefined;
    this.close('connack_error');
  }

  private onPublish(p: IPublishPacket): void {
    const opts = this.broker.options.mqtt;
    let topic = p.topic;
    const alias = p.properties?.topicAlias;
    if (alias !== undefined) {
      if (alias === 0 || alias > opts.maxTopicAlias) return this.disconnectWith(RC.TOPIC_ALIAS_INVALID, 'topic_alias_invalid');
      const aliases = (this.topicAliases ??= new Map());
      if (topic.length === 0) {
        const known = aliases.get(alias);
        if (known === undefined) return this.protocolError(`unknown topic alias ${alias}`);
        topic = known;
      } else aliases.set(alias, topic);
    }
    const err = topicNameError(topic, { maxLevels: opts.maxTopicLevels, maxLength: opts.maxTopicLength });
    if (err) {
      this.broker.logger.warn({ clientid: this.clientId, peer: this.peer, topic, why: err }, 'Invalid topic name');
      const malformed = err.includes('UTF-8') || err.includes('NUL');
      return this.disconnectWith(malformed ? RC.MALFORMED_PACKET : RC.TOPIC_NAME_INVALID, malformed ? 'frame_error' : 'topic_name_invalid');
    }
    if (p.qos > opts.maxQosAllowed) return this.disconnectWith(RC.QOS_NOT_SUPPORTED, 'qos_not_supported');
    if (p.retain && !opts.retainAvailable) return this.disconnectWith(RC.RETAIN_NOT_SUPPORTED, 'retain_not_supported');
    this.broker.stats.msgIn++;
    this.broker.stats.msgInQos[p.qos]++;
    if (this.traces) this.trace('publish_in', { topic, qos: p.qos, packet_id: p.messageId ?? null, retain: p.retain, dup: p.dup, ...payloadFields(toBuffer(p.payload)) });
    if (this.broker.tracer.topicTraces > 0) {
      this.broker.tracer.topicEvent(topic, 'publish_in', this.clientId, { topic, qos: p.qos, packet_id: p.messageId ?? null, ...payloadFields(toBuffer(p.payload)) });
    }

    if (p.qos === 2) {
      const session = this.session!;
      if (session.awaitingRel.has(p.messageId!)) {
        // a DUP of a QoS 2 message we already have: acknowledge again, publish nothing
        this.writeAck(ACK_PUBREC, p.messageId!);
        return;
      }
      if (opts.maxAwaitingRel > 0 && session.awaitingRel.size >= opts.maxAwaitingRel) {
        if (this.v5) return this.disconnectWith(RC.RECEIVE_MAXIMUM_EXCEEDED, 'receive_maximum_exceeded');
        this.broker.logger.warn({ clientid: this.clientId, peer: this.peer, topic }, 'Dropped qos2 packet due to too many awaiting_rel');
        this.broker.countDropped('awaiting_rel_full');
        return;
      }
    }
    if (p.properties?.payloadFormatIndicator && this.v5 && !isUtf8(p.payload)) {
      return this.ackPublish(p, RC.PAYLOAD_FORMAT_INVALID);
    }

    const authorize = this.broker.options.hooks.authorize;
    if (authorize) {
      const allowed = authorize(this.info, 'publish', topic);
      if (typeof allowed === 'boolean') {
        if (!allowed) return this.denyPublish(p, topic);
      } else {
        // an async authorizer: hold later packets so order is kept
        this.pendingPackets = [];
        allowed.then(
          (ok) => this.resumeAfter(() => (ok ? this.doPublish(p, topic) : this.denyPublish(p, topic))),
          () => this.resumeAfter(() => this.denyPublish(p, topic)),
        );
        return;
      }
    }
    this.doPublish(p, topic);
  }

  private resumeAfter(fn: () => void): void {
    const queued = this.pendingPackets ?? [];
    this.pendingPackets = undefined;
    if (this.conn.closed) return;
    fn();
    for (let i = 0; i < queued.length; i++) {
      if (this.conn.closed) return;
      if (this.pendingPackets) {
        // another async step started: keep the rest behind it
        (this.pendingPackets as Packet[]).push(...queued.slice(i));
        return;
      }
      this.onPacket(queued[i]);
    }
  }

  private doPublish(p: IPublishPacket, topic: string): void {
    const msg = messageFromPublish(p, topic, this.clientId, Date.now());
    const store = this.broker.options.store;
    const written = store.queued;
    if (p.qos === 2) this.session!.addAwaitingRel(p.messageId!, Date.now());
    const matched = this.broker.publish(msg, this);
    if (p.qos === 0) return;
    const rc = matched > 0 ? RC.SUCCESS : RC.NO_MATCHING_SUBSCRIBERS;
    // durability: durable — the ack waits until what this message wrote (persistent subscribers'
    // copies, a retained change, the QoS 2 state) is committed; later acks queue behind, in order
    if (this.deferredAcks > 0 || (store.durable && store.queued !== written)) {
      this.deferredAcks++;
      store.afterCommit(this.ackCommitted, (rc << 18) | (p.qos << 16) | p.messageId!);
    } else this.ackPublish(p, rc);
  }

  /** Acks waiting for the store's commit. */
  private deferredAcks = 0;

  private readonly ackCommitted = (packed: number, ok: boolean): void => {
    this.deferredAcks--;
    if (this.conn.closed) return;
    // not on disk: no ack; the client sends the message again on its next connection
    if (!ok) return this.disconnectWith(RC.UNSPECIFIED_ERROR, 'store_error');
    this.ackPid(((packed >>> 16) & 3) as 1 | 2, packed & 0xffff, packed >>> 18);
  };

  private denyPublish(p: IPublishPacket, topic: string): void {
    this.broker.stats.aclDenied++;
    this.broker.countDropped('acl_denied');
    this.broker.logger.info({ clientid: this.clientId, peer: this.peer, topic }, 'Publish denied by authorization');
    if (p.qos > 0) this.ackPublish(p, RC.NOT_AUTHORIZED);
  }

  private ackPublish(p: IPublishPacket, rc: number): void {
    if (p.qos === 0) return;
    this.ackPid(p.qos, p.messageId!, rc);
  }

  private ackPid(qos: 1 | 2, pid: number, rc: number): void {
    const cmd = qos === 1 ? 'puback' : 'pubrec';
    if (this.v5 && rc !== 0) {
      this.writePacket({ cmd, messageId: pid, reasonCode: rc });
      if (this.traces) this.trace(`${cmd}_out`, { packet_id: pid, reason_code: rc });
    } else this.writeAck(qos === 1 ? ACK_PUBACK : ACK_PUBREC, pid);
  }

  private onPubrel(pid: number): void {
    const session = this.session;
    if (!session) return;
    if (session.deleteAwaitingRel(pid)) this.writeAck(ACK_PUBCOMP, pid);
    else if (this.v5) this.writePacket({ cmd: 'pubcomp', messageId: pid, reasonCode: RC.PACKET_IDENTIFIER_NOT_FOUND });
    else this.writeAck(ACK_PUBCOMP, pid);
  }

  /** `answers`: authorization already decided per filter (after an async authorizer). */
  private onSubscribe(p: ISubscribePacket, answers?: boolean[]): void {
    const opts = this.broker.options.mqtt;
    const authorize = this.broker.options.hooks.authorize;
    const subId = p.properties?.subscriptionIdentifier ?? 0;
    const granted: number[] = [];
    const added: [string, SubOptions, boolean][] = [];
    const session = this.session!;
    for (let i = 0; i < p.subscriptions.length; i++) {
      const s = p.subscriptions[i];
      const rc = this.checkSubscription(s.topic, s.nl === true);
      if (rc === -1) return; // protocol error: connection closed
      if (rc !== 0) {
        granted.push(this.v5 ? rc : 0x80);
        continue;
      }
      if (opts.maxSubscriptions > 0 && !session.subscriptions.has(s.topic) && session.subscriptions.size >= opts.maxSubscriptions) {
        granted.push(this.v5 ? RC.QUOTA_EXCEEDED : 0x80);
        continue;
      }
      if (authorize) {
        const allowed = answers ? answers[i] : authorize(this.info, 'subscribe', s.topic);
        // an async authorizer: hold later packets and decide every filter first, in order
        if (typeof allowed !== 'boolean') return this.onSubscribeAsync(p);
        if (!allowed) {
          this.broker.stats.aclDenied++;
          granted.push(this.v5 ? RC.NOT_AUTHORIZED : 0x80);
          continue;
        }
      }
      const qos = Math.min(s.qos, opts.maxQosAllowed) as 0 | 1 | 2;
      const shared = parseSharedFilter(s.topic);
      const subOpts: SubOptions = { qos, nl: s.nl === true, rap: s.rap === true, rh: (s.rh ?? 0) as 0 | 1 | 2, subId };
      if (shared && typeof shared === 'object') subOpts.share = shared.group;
      const isNew = this.broker.subscribe(session, this.info, s.topic, subOpts);
      added.push([s.topic, subOpts, isNew]);
      granted.push(qos);
    }
    this.writePacket({ cmd: 'suback', messageId: p.messageId, granted });
    if (this.traces) this.trace('subscribe', { packet_id: p.messageId, topics: p.subscriptions.map((s, i) => ({ topic: s.topic, qos: s.qos, granted: granted[i] })) });
    for (const [filter, subOpts, isNew] of added) this.broker.sendRetained(session, filter, subOpts, isNew);
  }

  private onSubscribeAsync(p: ISubscribePacket): void {
    const authorize = this.broker.options.hooks.authorize!;
    this.pendingPackets = [];
    const asks = p.subscriptions.map((s) => Promise.resolve(authorize(this.info, 'subscribe', s.topic)).catch(() => false));
    void Promise.all(asks).then((answers) => this.resumeAfter(() => this.onSubscribe(p, answers)));
  }

  /** 0 when the filter may be subscribed, a SUBACK reason code when not, -1 after a protocol error. */
  private checkSubscription(full: string, noLocal: boolean): number {
    const opts = this.broker.options.mqtt;
    const shared = parseSharedFilter(full);
    if (typeof shared === 'string') return RC.TOPIC_FILTER_INVALID;
    const filter = shared ? shared.filter : full;
    if (topicFilterError(filter, { maxLevels: opts.maxTopicLevels, maxLength: opts.maxTopicLength })) return RC.TOPIC_FILTER_INVALID;
    if (shared) {
      if (!opts.sharedSubscription) return RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
      if (noLocal && this.v5) {
        // It is a Protocol Error to set No Local on a shared subscription [MQTT-3.8.3-4]
        this.protocolError('no local on a shared subscription');
        return -1;
      }
    }
    if (!opts.wildcardSubscription && (filter.includes('+') || filter.includes('#'))) return RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
    return 0;
  }

  private onUnsubscribe(p: IUnsubscribePacket): void {
    const session = this.session!;
    const codes: number[] = [];
    for (const filter of p.unsubscriptions) {
      const existed = this.broker.unsubscribe(session, this.info, filter);
      codes.push(existed ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
    }
    if (this.traces) this.trace('unsubscribe', { packet_id: p.messageId, topics: p.unsubscriptions, reason_codes: codes });
    if (this.v5) this.writePacket({ cmd: 'unsuback', messageId: p.messageId, granted: codes });
    else this.writePacket({ cmd: 'unsuback', messageId: p.messageId, granted: [] });
  }

  private onDisconnect(p: IDisconnectPacket): void {
    if (this.state !== 'connected') return this.close('normal');
    const rc = p.reasonCode ?? 0;
    const newExpiry = p.properties?.sessionExpiryInterval;
    if (newExpiry !== undefined && this.session) {
      if (this.sessionExpiryAtConnect === 0 && newExpiry !== 0) {
        // [MQTT-3.14.2-2]: can't make a session persistent at DISCONNECT
        return this.protocolError('session expiry set at DISCONNECT after 0 at CONNECT');
      }
      this.session.expiryInterval = newExpiry;
    }
    // a normal DISCONNECT discards the will; 0x04 asks for it to be published
    if (rc !== RC.DISCONNECT_WITH_WILL) this.will = undefined;
    this.close('normal');
  }

  // ── outbound ───────────────────────────────────────────────────────────────

  sendPublish(d: Delivery, pid: number, dup: boolean): boolean {
    if (this.conn.closed) return false;
    const buf = encodePublish(d, pid, dup, this.v5, Date.now());
    if (this.clientMaxPacket > 0 && buf.length > this.clientMaxPacket) {
      // [MQTT-3.1.2-25]: never send a packet larger than the client accepts; discard it
      this.debug('message larger than client Maximum Packet Size dropped', buf.length);
      return false;
    }
    this.broker.stats.msgOut++;
    this.broker.stats.msgOutQos[d.qos]++;
    if (this.traces) this.trace('publish_out', { topic: d.msg.topic, qos: d.qos, packet_id: pid || null, dup, retain: d.retain, from: d.msg.from, ...payloadFields(d.msg.payload) });
    if (this.broker.tracer.topicTraces > 0) {
      this.broker.tracer.topicEvent(d.msg.topic, 'publish_out', this.clientId, { topic: d.msg.topic, qos: d.qos, packet_id: pid || null, dup, ...payloadFields(d.msg.payload) });
    }
    this.broker.stats.packetsOut++;
    this.broker.stats.packetsSent.publish++;
    this.conn.write(buf);
    return true;
  }

  congested(): boolean {
    const over = this.conn.backlog > QOS0_BACKLOG_LIMIT;
    if (over !== this.slowReader) {
      this.slowReader = over;
      if (over) this.broker.logger.warn({ clientid: this.clientId, peer: this.peer, backlog: this.conn.backlog }, 'Dropping QoS 0 messages for a slow subscriber');
    }
    return over;
  }

  sendPubrel(pid: number): void {
    this.writeAck(ACK_PUBREL, pid);
  }

  /**
   * A success acknowledgement is four fixed bytes in every version (v5 may omit reason code 0
   * and empty properties, §3.4.2.1); built inline because it is on every QoS 1/2 message.
   */
  private writeAck(firstByte: number, pid: number): void {
    if (this.conn.closed) return;
    this.broker.stats.packetsOut++;
    this.broker.stats.packetsSent[ACK_NAMES[firstByte >> 4] as PacketType]++;
    const buf = Buffer.allocUnsafe(4);
    buf[0] = firstByte;
    buf[1] = 2;
    buf[2] = pid >> 8;
    buf[3] = pid & 0xff;
    this.conn.write(buf);
    if (this.traces) this.trace(`${ACK_NAMES[firstByte >> 4]}_out`, { packet_id: pid });
  }

  /** Writes an event to this client's traces; forgets them once they have all stopped. */
  trace(event: string, fields: Record<string, unknown>): void {
    const traces = this.traces!;
    let running = false;
    for (const t of traces) {
      t.write(event, this.clientId || undefined, fields);
      if (t.status === 'running') running = true;
    }
    if (!running) this.traces = undefined;
  }

  writePacket(packet: Packet): void {
    if (this.conn.closed) return;
    this.broker.stats.packetsOut++;
    this.broker.stats.packetsSent[packet.cmd]++;
    this.conn.write(encode(packet, { protocolVersion: this.protocolVersion }));
  }

  // ── closing ────────────────────────────────────────────────────────────────

  /** v5: DISCONNECT with `rc` first; then close with `reason` for logs and counters. */
  disconnectWith(rc: number, reason: string): void {
    if (this.conn.closed) return;
    if (this.v5 && this.state === 'connected') this.writePacket({ cmd: 'disconnect', reasonCode: rc });
    this.close(reason);
  }

  protocolError(why: string, reason = 'protocol_error'): void {
    this.broker.logger.warn({ clientid: this.clientId || undefined, peer: this.peer, why }, 'Protocol error');
    this.disconnectWith(RC.PROTOCOL_ERROR, reason);
  }

  /** Closes the connection; `rc` sends a v5 DISCONNECT first (when connected). */
  close(reason: string, rc?: number): void {
    if (this.conn.closed) return;
    if (rc !== undefined && this.v5 && this.state === 'connected') this.writePacket({ cmd: 'disconnect', reasonCode: rc });
    this.disconnectReason ??= reason;
    this.conn.close(reason);
  }

  private debug(what: string, detail: unknown): void {
    this.broker.logger.debug({ clientid: this.clientId, peer: this.peer, detail }, what);
  }
}

function toBuffer(payload: Buffer | string): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload) : payload;
}

function idleTimeout(ch: Channel): void {
  ch.close('idle_timeout');
}

function isUtf8(payload: Buffer | string): boolean {
  return typeof payload === 'string' || bufferIsUtf8(payload);
}

export { SESSION_NEVER_EXPIRES };

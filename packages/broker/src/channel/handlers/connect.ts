/** CONNECT: checks, will, session expiry, authentication, takeover, CONNACK. */
import { RC, connackCodeV4, topicNameError } from '@vireo/mqtt';
import type { IConnackPacket, IConnectPacket } from '@vireo/mqtt';
import type { AuthResult } from '../../hooks.js';
import { messageFromPublish } from '../../message.js';
import { hostOf } from '../../peer.js';
import { peerCertValue, peerCommonName } from '../../transport/peer-cert.js';
import { PAUSE_HOLD, resumeReads } from '../../limits/read-gate.js';
import { trace, writePacket } from '../send.js';
import type { ChannelState } from '../state.js';
import { OutboundAliases } from '../topic-alias-out.js';

export async function handleConnect(ch: ChannelState, p: IConnectPacket): Promise<void> {
  if (ch.idleTimer) clearTimeout(ch.idleTimer);
  ch.idleTimer = undefined;
  const ctx = ch.ctx;
  const opts = ctx.mqtt;
  ch.protocolVersion = (p.protocolVersion ?? 4) as 3 | 4 | 5;
  ch.v5 = ch.protocolVersion === 5;
  ch.conn.setProtocolVersion(ch.protocolVersion);
  if (ctx.wantsConnack()) ch.connectPacket = p;
  const props = p.properties;
  let clientId = p.clientId ?? '';
  let username = p.username;
  // mTLS: the certificate names the client (EMQX's peer_cert_as_clientid / _username)
  if (opts.peerCertAsClientid && opts.peerCertAsClientid !== 'disabled') clientId = peerCertValue(ch.conn.socket, opts.peerCertAsClientid) ?? clientId;
  if (opts.peerCertAsUsername && opts.peerCertAsUsername !== 'disabled') username = peerCertValue(ch.conn.socket, opts.peerCertAsUsername) ?? username;
  let assigned = false;
  const clean = p.clean !== false;
  if (props?.receiveMaximum === 0 || props?.maximumPacketSize === 0) return refuse(ch, RC.PROTOCOL_ERROR, 'zero receive maximum or packet size');
  if (props?.authenticationMethod) return refuse(ch, RC.BAD_AUTHENTICATION_METHOD, 'enhanced authentication not supported');
  const refusal = ctx.admission();
  if (refusal) return refuse(ch, RC.USE_ANOTHER_SERVER, 'node is evacuating: use another server', refusal.serverReference);
  if (ctx.guard.overloaded) {
    // overload_protection (guard/): refused at once, or handled after a delay
    const g = ctx.guard;
    if (g.refuseNewConn) {
      g.refusedConnects++;
      return refuse(ch, RC.SERVER_BUSY, 'node is overloaded: server busy');
    }
    if (g.newConnDelayMs > 0) {
      g.delayedConnects++;
      ch.pendingPackets ??= [];
      await new Promise((resolve) => setTimeout(resolve, g.newConnDelayMs));
      if (ch.conn.closed) return;
    }
  }
  if (clientId.length === 0) {
    // 3.1 requires an id; 3.1.1 allows none only with a clean session; v5 assigns one
    if (ch.protocolVersion === 3 || (ch.protocolVersion === 4 && !clean)) return refuse(ch, RC.CLIENT_IDENTIFIER_NOT_VALID, 'empty clientid');
    clientId = ctx.assignClientId();
    assigned = true;
  }
  if (clientId.length > opts.maxClientidLen || (ch.protocolVersion === 3 && clientId.length > 23)) {
    return refuse(ch, RC.CLIENT_IDENTIFIER_NOT_VALID, 'clientid too long');
  }
  ch.clientId = clientId;
  ch.username = username;
  ch.keepalive = p.keepalive ?? 0;
  ch.receiveMaximum = props?.receiveMaximum ?? 65535;
  ch.clientMaxPacket = props?.maximumPacketSize ?? 0;
  const aliasMax = Math.min(props?.topicAliasMaximum ?? 0, opts.maxTopicAliasOut);
  if (ch.v5 && aliasMax > 0) ch.aliasesOut = new OutboundAliases(aliasMax);
  ch.problemInfo = props?.requestProblemInformation !== false;
  ch.info = { clientId, username, peer: ch.peer, protocolVersion: ch.protocolVersion, listener: ch.conn.listener };
  ch.traces = ctx.tracer.forClient(clientId, hostOf(ch.peer));
  if (ch.traces) {
    trace(ch, 'connect', {
      peer: ch.peer,
      username: p.username ?? null,
      proto_ver: ch.protocolVersion,
      keepalive: ch.keepalive,
      clean_start: clean,
      will: p.will ? { topic: p.will.topic, qos: p.will.qos ?? 0, retain: !!p.will.retain } : null,
      properties: props ?? null,
    });
  }

  if (p.will) {
    const w = p.will;
    const err = topicNameError(w.topic, { maxLevels: opts.maxTopicLevels, maxLength: opts.maxTopicLength });
    if (err) return refuse(ch, ch.v5 ? RC.TOPIC_NAME_INVALID : RC.UNSPECIFIED_ERROR, `will topic: ${err}`);
    if ((w.qos ?? 0) > opts.maxQosAllowed) return refuse(ch, RC.QOS_NOT_SUPPORTED, 'will QoS not supported');
    if (w.retain && !opts.retainAvailable) return refuse(ch, RC.RETAIN_NOT_SUPPORTED, 'will retain not supported');
    const msg = messageFromPublish(
      { cmd: 'publish', topic: w.topic, payload: w.payload, qos: w.qos ?? 0, retain: !!w.retain, dup: false, properties: w.properties },
      w.topic,
      clientId,
      Date.now(),
    );
    ch.will = { msg, delay: w.properties?.willDelayInterval ?? 0 };
  }

  // session expiry: v5 from the CONNECT (0 = ends with the connection); 3.1.1 persistent sessions get the configured interval
  let expiry: number;
  if (ch.v5) expiry = props?.sessionExpiryInterval ?? 0;
  else expiry = clean ? 0 : Math.round(opts.sessionExpiryInterval / 1000);
  ch.sessionExpiryAtConnect = expiry;

  const hook = ctx.hooks.authenticate;
  if (hook) {
    ch.state = 'authenticating';
    ch.pendingPackets ??= [];
    let result: AuthResult;
    try {
      result = await hook({ ...ch.info, password: p.password, certCommonName: peerCommonName(ch.conn.socket) });
    } catch (err) {
      ctx.logger.error({ clientid: clientId, peer: ch.peer, err }, 'authenticate hook failed');
      result = { ok: false, reasonCode: RC.UNSPECIFIED_ERROR };
    }
    if (ch.conn.closed) return;
    if (!result.ok) {
      ctx.stats.authFailure++;
      ch.pendingPackets = undefined;
      return refuse(ch, result.reasonCode ?? RC.NOT_AUTHORIZED, 'authentication failed');
    }
    ctx.stats.authSuccess++;
    if (result.isSuperuser) ch.info.isSuperuser = true;
    if (result.attrs) ch.info.attrs = result.attrs;
  }

  // a session of this clientid on another node: ended there (clean start) or moved here
  const claim = ctx.claimClient(clientId, clean);
  if (claim) {
    ch.state = 'authenticating';
    ch.pendingPackets ??= [];
    await claim;
    if (ch.conn.closed) return;
  }
  const { session, present } = ctx.openSession(ch, clean, expiry);
  ch.session = session;
  ch.state = 'connected';
  ch.connectedAt = Date.now();

  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: present };
  if (ch.v5) {
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
      ch.keepalive = opts.serverKeepalive;
    }
    if (props?.requestResponseInformation && opts.responseInformation) cp.responseInformation = opts.responseInformation;
    connack.properties = cp;
  } else connack.returnCode = 0;
  writePacket(ch, connack);
  if (ch.traces) trace(ch, 'connack', { reason_code: 0, session_present: present });
  if (ch.connectPacket) emitConnack(ch, 0);

  if (ch.keepalive > 0) {
    ch.conn.startKeepalive(ch.keepalive * 1000 * opts.keepaliveMultiplier);
  }
  ctx.connected(ch);
  // v5 retransmits only on reconnect [MQTT-4.4.0-1]; 3.1.1 also on retry_interval
  session.attach(ch, ch.v5 ? 0 : opts.retryInterval);

  const queued = ch.pendingPackets;
  ch.pendingPackets = undefined;
  if (queued) for (const q of queued) if (!ch.conn.closed) ch.onPacket(q);
  if (!ch.pendingPackets) resumeReads(ch.conn, PAUSE_HOLD);
}

function emitConnack(ch: ChannelState, rc: number): void {
  const p = ch.connectPacket!;
  ch.connectPacket = undefined;
  ch.ctx.connack({
    clientId: ch.clientId,
    username: p.username,
    peer: ch.peer,
    protocolVersion: ch.protocolVersion,
    listener: ch.conn.listener,
    reasonCode: rc,
    keepalive: p.keepalive ?? 0,
    cleanStart: p.clean !== false,
    expiryInterval: ch.sessionExpiryAtConnect,
    connProps: p.properties as Record<string, unknown> | undefined,
  });
}

/** CONNACK with an error and close. */
function refuse(ch: ChannelState, rc: number, why: string, serverReference?: string): void {
  ch.ctx.logger.info({ clientid: ch.clientId || undefined, peer: ch.peer, reason_code: rc, why }, 'Connection refused');
  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: false };
  if (ch.v5) {
    connack.reasonCode = rc;
    const cp: NonNullable<IConnackPacket['properties']> = {};
    if (ch.problemInfo) cp.reasonString = why;
    if (serverReference !== undefined) cp.serverReference = serverReference;
    if (ch.problemInfo || serverReference !== undefined) connack.properties = cp;
  } else connack.returnCode = connackCodeV4(rc);
  writePacket(ch, connack);
  if (ch.traces) trace(ch, 'connack', { reason_code: rc, why });
  if (ch.connectPacket) emitConnack(ch, rc);
  ch.will = undefined;
  ch.close('connack_error');
}

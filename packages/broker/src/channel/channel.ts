import { RC, ProtocolViolation, encode, type Packet } from '@vireo/mqtt';
import type { Delivery, Outlet } from '../session/types.js';
import type { Connection, ConnectionHandler } from '../transport/connection.js';
import type { ChannelContext } from './context.js';
import { ackCommitted, handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './handlers/acks.js';
import { handleConnect } from './handlers/connect.js';
import { handleDisconnect } from './handlers/disconnect.js';
import { handlePublish } from './handlers/publish.js';
import { handleSubscribe, handleUnsubscribe } from './handlers/subscribe.js';
import { ACK_PUBREL, congested, disconnectWith, protocolError, sendPublish, trace, writeAck, writePacket, writePingresp } from './send.js';
import { ChannelState } from './state.js';
import { guardBacklog, shedQos0 } from '../guard/force-shutdown.js';
import { PAUSE_HOLD, pauseReads } from '../limits/read-gate.js';

export type { Will } from './context.js';

/**
 * The MQTT protocol state machine of one connection (EMQX's emqx_channel): it takes packets
 * from its Connection and hands each to its handler (handlers/, one file per packet family);
 * while connected it is its session's outlet. It reaches the node only through ChannelContext.
 */
export class Channel extends ChannelState implements ConnectionHandler, Outlet {
  readonly ackCommitted = (packed: number, ok: boolean): void => ackCommitted(this, packed, ok);

  constructor(conn: Connection, ctx: ChannelContext) {
    super(conn, ctx);
    conn.handler = this;
    guardBacklog(this);
    this.idleTimer = setTimeout(idleTimeout, ctx.mqtt.idleTimeout, this);
  }

  // ── inbound ────────────────────────────────────────────────────────────────

  onPacket(packet: Packet): void {
    if (this.pendingPackets) {
      // held behind an async step: stop reading until it ends (limits/read-gate.ts), so what waits is bounded
      if (this.pendingPackets.push(packet) === 1) pauseReads(this.conn, PAUSE_HOLD);
      return;
    }
    const ctx = this.ctx;
    if (packet.length !== undefined && packet.length > ctx.mqtt.maxPacketSize) {
      return this.onPacketTooLarge(packet.length);
    }
    const stats = ctx.stats;
    stats.packetsIn++;
    // publish, subscribe and connect trace their own richer events
    if (this.traces && packet.cmd !== 'publish' && packet.cmd !== 'connect' && packet.cmd !== 'subscribe' && packet.cmd !== 'unsubscribe') {
      trace(this, `${packet.cmd}_in`, { packet_id: packet.messageId ?? null, reason_code: (packet as { reasonCode?: number }).reasonCode ?? null });
    }
    // the message flow's counters by name: `packetsReceived[packet.cmd]` was a megamorphic keyed access per packet
    switch (packet.cmd) {
      case 'publish':
        stats.packetsReceived.publish++;
        return this.state === 'connected' ? handlePublish(this, packet) : protocolError(this, 'publish before connect');
      case 'puback':
        stats.packetsReceived.puback++;
        return handlePuback(this, packet.messageId!);
      default:
        stats.packetsReceived[packet.cmd]++;
        return this.onOtherPacket(packet);
    }
  }

  private onOtherPacket(packet: Packet): void {
    switch (packet.cmd) {
      case 'pubrec':
        return handlePubrec(this, packet.messageId!, packet.reasonCode);
      case 'pubrel':
        return handlePubrel(this, packet.messageId!);
      case 'pubcomp':
        return handlePubcomp(this, packet.messageId!);
      case 'subscribe':
        return this.state === 'connected' ? handleSubscribe(this, packet) : protocolError(this, 'subscribe before connect');
      case 'unsubscribe':
        return this.state === 'connected' ? handleUnsubscribe(this, packet) : protocolError(this, 'unsubscribe before connect');
      case 'pingreq':
        if (this.state !== 'connected') return protocolError(this, 'pingreq before connect');
        return writePingresp(this);
      case 'disconnect':
        return handleDisconnect(this, packet);
      case 'connect':
        if (this.state === 'connecting') return void handleConnect(this, packet).catch((err: unknown) => this.onHandlerError(err));
        // a second CONNECT [MQTT-3.1.0-2]
        return protocolError(this, 'unexpected CONNECT', 'proto_unexpected_c');
      case 'auth':
        // enhanced authentication is not offered, so AUTH is never expected
        return protocolError(this, 'unexpected AUTH');
      default:
        return protocolError(this, `unexpected ${packet.cmd}`);
    }
  }

  onParseError(err: Error, data: Buffer): void {
    this.ctx.logger.warn({ clientid: this.clientId || undefined, peer: this.peer, reason: err.message, frame_data: data.toString('hex') }, 'Parse failed');
    if (this.state === 'connecting' && /protocol version|protocolId/.test(err.message)) {
      // CONNACK "unacceptable protocol version" in 3.1.1 form, which every version can read
      this.conn.write(encode({ cmd: 'connack', returnCode: 1, sessionPresent: false }, { protocolVersion: 4 }));
      return this.close('frame_error');
    }
    disconnectWith(this, err instanceof ProtocolViolation ? RC.PROTOCOL_ERROR : RC.MALFORMED_PACKET, 'frame_error');
  }

  onHandlerError(err: unknown): void {
    this.ctx.logger.error({ clientid: this.clientId || undefined, peer: this.peer, err }, 'Packet handling failed');
    disconnectWith(this, RC.UNSPECIFIED_ERROR, 'internal_error');
  }

  onKeepaliveTimeout(): void {
    this.close('keepalive_timeout', RC.KEEP_ALIVE_TIMEOUT);
  }

  onPacketTooLarge(size: number): void {
    this.ctx.logger.warn({ clientid: this.clientId || undefined, peer: this.peer, size, max: this.ctx.mqtt.maxPacketSize }, 'Packet too large');
    disconnectWith(this, RC.PACKET_TOO_LARGE, 'frame_too_large');
  }

  onClose(reason: string): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.traces) trace(this, 'disconnect', { reason: this.disconnectReason ?? reason });
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    if (wasConnected) this.ctx.closed(this, this.disconnectReason ?? reason);
    else this.ctx.aborted(this, this.disconnectReason ?? reason);
  }

  // ── outlet (the session writes through these) ──────────────────────────────

  sendPublish(d: Delivery, pid: number, dup: boolean): boolean {
    return sendPublish(this, d, pid, dup);
  }

  sendPubrel(pid: number): void {
    writeAck(this, ACK_PUBREL, pid);
  }

  congested(): boolean {
    if (shedQos0(this)) return true;
    if (!congested(this)) return false;
    // force_shutdown counts what arrives for a client over the watermark (guard/write-backlog.ts)
    this.conn.backlogGuard?.dropped(this.conn.backlog);
    return true;
  }

  // ── closing ────────────────────────────────────────────────────────────────

  close(reason: string, rc?: number, serverReference?: string): void {
    if (this.conn.closed) return;
    if (rc !== undefined && this.v5 && this.state === 'connected') {
      writePacket(this, serverReference === undefined ? { cmd: 'disconnect', reasonCode: rc } : { cmd: 'disconnect', reasonCode: rc, properties: { serverReference } });
    }
    this.disconnectReason ??= reason;
    this.conn.close(reason);
  }
}

function idleTimeout(ch: Channel): void {
  ch.close('idle_timeout');
}

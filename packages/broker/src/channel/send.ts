/** Everything a channel writes to its client: packets, the inline acks, PUBLISH, traces, closing. */
import { RC } from '@vireo/mqtt';
import type { Packet } from '@vireo/mqtt';
import { encode } from '@vireo/mqtt';
import type { PacketType } from '../node/stats.js';
import { encodePublish, encodePublishHead, payloadApart } from '@vireo/mqtt';
import type { Delivery } from '../session/types.js';
import { payloadFields } from '../trace.js';
import type { ChannelState } from './state.js';

/** Over this many bytes waiting for a client's socket, QoS 0 messages to it are dropped. */
export const QOS0_BACKLOG_LIMIT = 1024 * 1024;

export const ACK_PUBACK = 0x40;
export const ACK_PUBREC = 0x50;
export const ACK_PUBREL = 0x62;
export const ACK_PUBCOMP = 0x70;
const PINGRESP = Buffer.from([0xd0, 0x00]);
const ACK_NAMES: Record<number, string> = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp' };

export function writePacket(ch: ChannelState, packet: Packet): void {
  if (ch.conn.closed) return;
  const stats = ch.ctx.stats;
  stats.packetsOut++;
  stats.packetsSent[packet.cmd]++;
  ch.conn.write(encode(packet, { protocolVersion: ch.protocolVersion }));
}

/**
 * A success acknowledgement is four fixed bytes in every version (v5 may omit reason code 0
 * and empty properties, §3.4.2.1); built inline because it is on every QoS 1/2 message.
 */
export function writeAck(ch: ChannelState, firstByte: number, pid: number): void {
  if (ch.conn.closed) return;
  const stats = ch.ctx.stats;
  stats.packetsOut++;
  stats.packetsSent[ACK_NAMES[firstByte >> 4] as PacketType]++;
  const buf = Buffer.allocUnsafe(4);
  buf[0] = firstByte;
  buf[1] = 2;
  buf[2] = pid >> 8;
  buf[3] = pid & 0xff;
  ch.conn.write(buf);
  if (ch.traces) trace(ch, `${ACK_NAMES[firstByte >> 4]}_out`, { packet_id: pid });
}

export function writePingresp(ch: ChannelState): void {
  ch.ctx.stats.packetsOut++;
  ch.ctx.stats.packetsSent.pingresp++;
  ch.conn.write(PINGRESP);
}

/**
 * Writes a PUBLISH to the client; false when it was dropped as too large for the client.
 * With outbound topic aliases (v5), the topic goes once per alias binding (state.aliasesOut).
 * A large payload is written after this subscriber's own header, the same Buffer for every
 * subscriber, instead of being copied into each one's packet.
 */
export function sendPublish(ch: ChannelState, d: Delivery, pid: number, dup: boolean): boolean {
  if (ch.conn.closed) return false;
  const msg = d.msg;
  const aliases = ch.aliasesOut;
  let alias = 0;
  let known = false;
  if (aliases !== undefined) {
    alias = aliases.find(msg.topic);
    known = alias !== 0;
    if (!known) alias = aliases.candidate(msg.topic);
  }
  // QoS 2 keeps its topic beside the alias: MQTT.js (5.x) stores a QoS 2 PUBLISH until PUBREL
  // and then reports the packet's own topic, which would be empty
  const withTopic = !known || d.qos === 2;
  const apart = payloadApart(d, ch.v5, alias);
  // the clock is read only for what it is for: a v5 Message Expiry Interval's remaining seconds
  const now = msg.expiresAt !== 0 ? Date.now() : 0;
  const buf = apart ? encodePublishHead(d, pid, dup, ch.v5, now, alias, withTopic) : encodePublish(d, pid, dup, ch.v5, now, alias, withTopic);
  const size = apart ? buf.length + msg.payload.length : buf.length;
  if (ch.clientMaxPacket > 0 && size > ch.clientMaxPacket) {
    // [MQTT-3.1.2-25]: never send a packet larger than the client accepts; discard it
    debug(ch, 'message larger than client Maximum Packet Size dropped', size);
    return false;
  }
  if (alias !== 0) aliases!.use(msg.topic, alias, known);
  const stats = ch.ctx.stats;
  stats.msgOut++;
  stats.msgOutQos[d.qos]++;
  if (ch.traces) trace(ch, 'publish_out', { topic: msg.topic, qos: d.qos, packet_id: pid || null, dup, retain: d.retain, from: msg.from, ...payloadFields(msg.payload) });
  const tracer = ch.ctx.tracer;
  if (tracer.topicTraces > 0) {
    tracer.topicEvent(msg.topic, 'publish_out', ch.clientId, { topic: msg.topic, qos: d.qos, packet_id: pid || null, dup, ...payloadFields(msg.payload) });
  }
  stats.packetsOut++;
  stats.packetsSent.publish++;
  ch.conn.write(buf);
  if (apart) ch.conn.write(msg.payload, true);
  return true;
}

/** True while the client's write backlog is over the QoS 0 limit (logged once per episode). */
export function congested(ch: ChannelState): boolean {
  const over = ch.conn.backlog > QOS0_BACKLOG_LIMIT;
  if (over !== ch.slowReader) {
    ch.slowReader = over;
    if (over) ch.ctx.logger.warn({ clientid: ch.clientId, peer: ch.peer, backlog: ch.conn.backlog }, 'Dropping QoS 0 messages for a slow subscriber');
  }
  return over;
}

/** Writes an event to this client's traces; forgets them once they have all stopped. */
export function trace(ch: ChannelState, event: string, fields: Record<string, unknown>): void {
  const traces = ch.traces!;
  let running = false;
  for (const t of traces) {
    t.write(event, ch.clientId || undefined, fields);
    if (t.status === 'running') running = true;
  }
  if (!running) ch.traces = undefined;
}

/** v5: DISCONNECT with `rc` first; then close with `reason` for logs and counters. */
export function disconnectWith(ch: ChannelState, rc: number, reason: string): void {
  if (ch.conn.closed) return;
  if (ch.v5 && ch.state === 'connected') writePacket(ch, { cmd: 'disconnect', reasonCode: rc });
  ch.close(reason);
}

export function protocolError(ch: ChannelState, why: string, reason = 'protocol_error'): void {
  ch.ctx.logger.warn({ clientid: ch.clientId || undefined, peer: ch.peer, why }, 'Protocol error');
  disconnectWith(ch, RC.PROTOCOL_ERROR, reason);
}

export function debug(ch: ChannelState, what: string, detail: unknown): void {
  ch.ctx.logger.debug({ clientid: ch.clientId, peer: ch.peer, detail }, what);
}

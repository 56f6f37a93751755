/**
 * Acknowledgements both ways: PUBACK/PUBREC/PUBREL/PUBCOMP from the client, and the acks of
 * its own QoS 1/2 publishes — deferred, with `durability: durable`, until the store commits.
 */
import { RC } from '@vireo/mqtt';
import type { IPublishPacket } from '@vireo/mqtt';
import { ACK_PUBACK, ACK_PUBCOMP, ACK_PUBREC, debug, disconnectWith, trace, writeAck, writePacket } from '../send.js';
import type { ChannelState } from '../state.js';

export function handlePuback(ch: ChannelState, pid: number): void {
  if (ch.session && !ch.session.puback(pid)) debug(ch, 'PUBACK for unknown packet id', pid);
}

export function handlePubrec(ch: ChannelState, pid: number, reasonCode: number | undefined): void {
  if (ch.session && !ch.session.pubrec(pid, (reasonCode ?? 0) >= 0x80)) {
    // v5: answer an unknown id with PUBREL 0x92 so the client can finish
    writePacket(ch, { cmd: 'pubrel', messageId: pid, reasonCode: RC.PACKET_IDENTIFIER_NOT_FOUND });
  }
}

export function handlePubcomp(ch: ChannelState, pid: number): void {
  if (ch.session && !ch.session.pubcomp(pid)) debug(ch, 'PUBCOMP for unknown packet id', pid);
}

export function handlePubrel(ch: ChannelState, pid: number): void {
  const session = ch.session;
  if (!session) return;
  if (session.deleteAwaitingRel(pid)) writeAck(ch, ACK_PUBCOMP, pid);
  else if (ch.v5) writePacket(ch, { cmd: 'pubcomp', messageId: pid, reasonCode: RC.PACKET_IDENTIFIER_NOT_FOUND });
  else writeAck(ch, ACK_PUBCOMP, pid);
}

/**
 * Acks a QoS 1/2 publish that was routed. With `durability: durable` the ack waits until what
 * this message wrote (persistent subscribers' copies, a retained change, the QoS 2 state) is
 * committed (`written`: the store's write count before routing); later acks queue behind, in order.
 */
export function ackRouted(ch: ChannelState, p: IPublishPacket, rc: number, written: number): void {
  const store = ch.ctx.store;
  if (ch.deferredAcks > 0 || (store.durable && store.queued !== written)) {
    ch.deferredAcks++;
    // packed into one number: a function and a number per message, no closure
    store.afterCommit(ch.ackCommitted, (rc << 18) | (p.qos << 16) | p.messageId!);
  } else ackPublish(ch, p, rc);
}

/** The store's answer for one deferred ack (ChannelState.ackCommitted calls this). */
export function ackCommitted(ch: ChannelState, packed: number, ok: boolean): void {
  ch.deferredAcks--;
  if (ch.conn.closed) return;
  // not on disk: no ack; the client sends the message again on its next connection
  if (!ok) return disconnectWith(ch, RC.UNSPECIFIED_ERROR, 'store_error');
  ackPid(ch, ((packed >>> 16) & 3) as 1 | 2, packed & 0xffff, packed >>> 18);
}

export function ackPublish(ch: ChannelState, p: IPublishPacket, rc: number): void {
  if (p.qos === 0) return;
  ackPid(ch, p.qos, p.messageId!, rc);
}

function ackPid(ch: ChannelState, qos: 1 | 2, pid: number, rc: number): void {
  const cmd = qos === 1 ? 'puback' : 'pubrec';
  if (ch.v5 && rc !== 0) {
    writePacket(ch, { cmd, messageId: pid, reasonCode: rc });
    if (ch.traces) trace(ch, `${cmd}_out`, { packet_id: pid, reason_code: rc });
  } else writeAck(ch, qos === 1 ? ACK_PUBACK : ACK_PUBREC, pid);
}

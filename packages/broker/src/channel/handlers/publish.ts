/** PUBLISH from the client: topic alias, checks, QoS 2 receive state, authorization, routing. */
import { isUtf8 as bufferIsUtf8 } from 'node:buffer';
import { RC, topicNameError } from '@vireo/mqtt';
import type { IPublishPacket } from '@vireo/mqtt';
import { messageFromPublish } from '../../message.js';
import { payloadFields } from '../../trace.js';
import { resumeAfter } from '../hold.js';
import { ACK_PUBREC, disconnectWith, protocolError, trace, writeAck } from '../send.js';
import type { ChannelState } from '../state.js';
import { ackPublish, ackRouted } from './acks.js';

export function handlePublish(ch: ChannelState, p: IPublishPacket): void {
  const ctx = ch.ctx;
  const opts = ctx.mqtt;
  let topic = p.topic;
  const alias = p.properties?.topicAlias;
  if (alias !== undefined) {
    if (alias === 0 || alias > opts.maxTopicAlias) return disconnectWith(ch, RC.TOPIC_ALIAS_INVALID, 'topic_alias_invalid');
    const aliases = (ch.topicAliases ??= new Map<number, string>());
    if (topic.length === 0) {
      const known = aliases.get(alias);
      if (known === undefined) return protocolError(ch, `unknown topic alias ${alias}`);
      topic = known;
    } else aliases.set(alias, topic);
  }
  const err = topicNameError(topic, { maxLevels: opts.maxTopicLevels, maxLength: opts.maxTopicLength });
  if (err) {
    ctx.logger.warn({ clientid: ch.clientId, peer: ch.peer, topic, why: err }, 'Invalid topic name');
    const malformed = err.includes('UTF-8') || err.includes('NUL');
    return disconnectWith(ch, malformed ? RC.MALFORMED_PACKET : RC.TOPIC_NAME_INVALID, malformed ? 'frame_error' : 'topic_name_invalid');
  }
  if (p.qos > opts.maxQosAllowed) return disconnectWith(ch, RC.QOS_NOT_SUPPORTED, 'qos_not_supported');
  if (p.retain && !opts.retainAvailable) return disconnectWith(ch, RC.RETAIN_NOT_SUPPORTED, 'retain_not_supported');
  ctx.stats.msgIn++;
  ctx.stats.msgInQos[p.qos]++;
  if (ch.traces) trace(ch, 'publish_in', { topic, qos: p.qos, packet_id: p.messageId ?? null, retain: p.retain, dup: p.dup, ...payloadFields(toBuffer(p.payload)) });
  if (ctx.tracer.topicTraces > 0) {
    ctx.tracer.topicEvent(topic, 'publish_in', ch.clientId, { topic, qos: p.qos, packet_id: p.messageId ?? null, ...payloadFields(toBuffer(p.payload)) });
  }

  if (p.qos === 2) {
    const session = ch.session!;
    if (session.awaitingRel.has(p.messageId!)) {
      // a DUP of a QoS 2 message we already have: acknowledge again, publish nothing
      writeAck(ch, ACK_PUBREC, p.messageId!);
      return;
    }
    if (opts.maxAwaitingRel > 0 && session.awaitingRel.size >= opts.maxAwaitingRel) {
      if (ch.v5) return disconnectWith(ch, RC.RECEIVE_MAXIMUM_EXCEEDED, 'receive_maximum_exceeded');
      ctx.logThrottle.event(
        'warn',
        `awaiting_rel_full ${ch.clientId}`,
        { clientid: ch.clientId, peer: ch.peer, reason: 'awaiting_rel_full', topic },
        'Dropped qos2 packet due to too many awaiting_rel',
      );
      ctx.countDropped('awaiting_rel_full');
      return;
    }
  }
  if (p.properties?.payloadFormatIndicator && ch.v5 && !isUtf8(p.payload)) {
    return ackPublish(ch, p, RC.PAYLOAD_FORMAT_INVALID);
  }

  const authorize = ctx.hooks.authorize;
  if (authorize) {
    const allowed = authorize(ch.info, 'publish', topic, p.qos, p.retain);
    if (typeof allowed === 'boolean') {
      if (!allowed) return denyPublish(ch, p, topic);
    } else {
      // an async authorizer: hold later packets so order is kept
      ch.pendingPackets = [];
      allowed.then(
        (ok) => resumeAfter(ch, () => (ok ? routePublish(ch, p, topic) : denyPublish(ch, p, topic))),
        () => resumeAfter(ch, () => denyPublish(ch, p, topic)),
      );
      return;
    }
  }
  routePublish(ch, p, topic);
}

function routePublish(ch: ChannelState, p: IPublishPacket, topic: string): void {
  // received when its bytes were read (the connection took the time then: no second clock read per message)
  const now = ch.conn.lastRecv;
  const msg = messageFromPublish(p, topic, ch.clientId, now);
  const written = ch.ctx.store.queued;
  if (p.qos === 2) ch.session!.addAwaitingRel(p.messageId!, now);
  const matched = ch.ctx.publish(msg, ch);
  if (p.qos === 0) return;
  ackRouted(ch, p, matched > 0 ? RC.SUCCESS : RC.NO_MATCHING_SUBSCRIBERS, written);
}

function denyPublish(ch: ChannelState, p: IPublishPacket, topic: string): void {
  ch.ctx.stats.aclDenied++;
  ch.ctx.countDropped('acl_denied');
  ch.ctx.logThrottle.event('info', `acl_denied ${ch.clientId}`, { clientid: ch.clientId, peer: ch.peer, reason: 'acl_denied', topic }, 'Publish denied by authorization');
  if (p.qos > 0) ackPublish(ch, p, RC.NOT_AUTHORIZED);
}

function toBuffer(payload: Buffer | string): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload) : payload;
}

function isUtf8(payload: Buffer | string): boolean {
  return typeof payload === 'string' || bufferIsUtf8(payload);
}

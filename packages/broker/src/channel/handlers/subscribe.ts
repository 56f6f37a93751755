/** SUBSCRIBE and UNSUBSCRIBE: filter checks, limits, authorization, SUBACK, retained messages. */
import { RC, parseSharedFilter, topicFilterError } from '@vireo/mqtt';
import type { ISubscribePacket, IUnsubscribePacket } from '@vireo/mqtt';
import type { SubOptions } from '../../subscription.js';
import { resumeAfter } from '../hold.js';
import { protocolError, trace, writePacket } from '../send.js';
import type { ChannelState } from '../state.js';

/** `answers`: authorization already decided per filter (after an async authorizer). */
export function handleSubscribe(ch: ChannelState, p: ISubscribePacket, answers?: boolean[]): void {
  const ctx = ch.ctx;
  const opts = ctx.mqtt;
  const authorize = ctx.hooks.authorize;
  const subId = p.properties?.subscriptionIdentifier ?? 0;
  const granted: number[] = [];
  const added: [string, SubOptions, boolean][] = [];
  const session = ch.session!;
  // answers given at once, kept in case a later filter's answer is a Promise (each filter is asked once)
  const known: (boolean | undefined)[] = [];
  for (let i = 0; i < p.subscriptions.length; i++) {
    const s = p.subscriptions[i];
    const rc = checkSubscription(ch, s.topic, s.nl === true);
    if (rc === -1) return; // protocol error: connection closed
    if (rc !== 0) {
      granted.push(ch.v5 ? rc : 0x80);
      continue;
    }
    if (opts.maxSubscriptions > 0 && !session.subscriptions.has(s.topic) && session.subscriptions.size >= opts.maxSubscriptions) {
      granted.push(ch.v5 ? RC.QUOTA_EXCEEDED : 0x80);
      continue;
    }
    if (authorize) {
      const allowed = answers ? answers[i] : authorize(ch.info, 'subscribe', s.topic, s.qos);
      // an async authorizer: hold later packets and decide every filter first, in order
      if (typeof allowed !== 'boolean') return subscribeAsync(ch, p, known, i, allowed);
      known[i] = allowed;
      if (!allowed) {
        ctx.stats.aclDenied++;
        granted.push(ch.v5 ? RC.NOT_AUTHORIZED : 0x80);
        continue;
      }
    }
    const qos = Math.min(s.qos, opts.maxQosAllowed) as 0 | 1 | 2;
    const shared = parseSharedFilter(s.topic);
    const subOpts: SubOptions = { qos, nl: s.nl === true, rap: s.rap === true, rh: (s.rh ?? 0) as 0 | 1 | 2, subId };
    if (shared && typeof shared === 'object') subOpts.share = shared.group;
    const isNew = ctx.subscribe(session, ch.info, s.topic, subOpts);
    added.push([s.topic, subOpts, isNew]);
    granted.push(qos);
  }
  writePacket(ch, { cmd: 'suback', messageId: p.messageId, granted });
  if (ch.traces) trace(ch, 'subscribe', { packet_id: p.messageId, topics: p.subscriptions.map((s, i) => ({ topic: s.topic, qos: s.qos, granted: granted[i] })) });
  for (const [filter, subOpts, isNew] of added) ctx.sendRetained(session, filter, subOpts, isNew);
}

/** `known`: answers already given for filters before `at`; `pending`: the answer for filter `at`. */
function subscribeAsync(ch: ChannelState, p: ISubscribePacket, known: (boolean | undefined)[], at: number, pending: boolean | Promise<boolean>): void {
  const authorize = ch.ctx.hooks.authorize!;
  ch.pendingPackets = [];
  const asks = p.subscriptions.map((s, j) =>
    // before `at`: answered already, or never asked (a bad filter, over quota): not asked now either
    Promise.resolve(j === at ? pending : j < at ? (known[j] ?? false) : authorize(ch.info, 'subscribe', s.topic, s.qos)).catch(() => false),
  );
  void Promise.all(asks).then((answers) => resumeAfter(ch, () => handleSubscribe(ch, p, answers)));
}

/** 0 when the filter may be subscribed, a SUBACK reason code when not, -1 after a protocol error. */
function checkSubscription(ch: ChannelState, full: string, noLocal: boolean): number {
  const opts = ch.ctx.mqtt;
  const shared = parseSharedFilter(full);
  if (typeof shared === 'string') return RC.TOPIC_FILTER_INVALID;
  const filter = shared ? shared.filter : full;
  if (topicFilterError(filter, { maxLevels: opts.maxTopicLevels, maxLength: opts.maxTopicLength })) return RC.TOPIC_FILTER_INVALID;
  if (shared) {
    if (!opts.sharedSubscription) return RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
    if (noLocal && ch.v5) {
      // It is a Protocol Error to set No Local on a shared subscription [MQTT-3.8.3-4]
      protocolError(ch, 'no local on a shared subscription');
      return -1;
    }
  }
  if (!opts.wildcardSubscription && (filter.includes('+') || filter.includes('#'))) return RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
  return 0;
}

export function handleUnsubscribe(ch: ChannelState, p: IUnsubscribePacket): void {
  const session = ch.session!;
  const codes: number[] = [];
  for (const filter of p.unsubscriptions) {
    const existed = ch.ctx.unsubscribe(session, ch.info, filter);
    codes.push(existed ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
  }
  if (ch.traces) trace(ch, 'unsubscribe', { packet_id: p.messageId, topics: p.unsubscriptions, reason_codes: codes });
  if (ch.v5) writePacket(ch, { cmd: 'unsuback', messageId: p.messageId, granted: codes });
  else writePacket(ch, { cmd: 'unsuback', messageId: p.messageId, granted: [] });
}

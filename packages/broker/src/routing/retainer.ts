import { isWildcard, topicMatches } from '@vireo/mqtt';
import type { Message } from '../message.js';
import { isExpired } from '../message.js';
import type { LogThrottle } from '../node/log-throttle.js';
import type { RetainedStore } from '../persistence/store.js';

/** Why a retained message was not stored (the `reason` of `vireo_retained_dropped_total`). */
export type RetainDropReason = 'table_is_full' | 'payload_too_large';

/** EMQX's `retainer.backend.max_retained_messages` and `retainer.max_payload_size`; 0 = unlimited. */
export interface RetainerLimits {
  maxRetainedMessages: number;
  maxPayloadSize: number;
}

/**
 * Retained messages, one per topic. Exact filters are a Map lookup; a wildcard filter
 * scans the retained topics (retained sets are small next to message rates, and the
 * scan runs once per SUBSCRIBE, never per PUBLISH).
 */
export class Retainer {
  private readonly byTopic = new Map<string, Message>();
  /** Retained topics but `$SYS` ones (the node's own, always kept): what max_retained_messages counts. */
  private userCount = 0;
  /** Where changes go to survive a restart; unset = memory only. */
  store: RetainedStore | undefined;
  limits: RetainerLimits = { maxRetainedMessages: 0, maxPayloadSize: 0 };
  /** Where refusals are logged (throttled per reason); unset = not logged. */
  log: LogThrottle | undefined;
  /** Retained messages not stored, by reason (`vireo_retained_dropped_total`). */
  readonly dropped: Record<RetainDropReason, number> = { table_is_full: 0, payload_too_large: 0 };

  get size(): number {
    return this.byTopic.size;
  }

  /**
   * Stores, replaces, or (empty payload) clears the retained message of `msg.topic`; false
   * when a limit refused it (the publish itself is still delivered, as in EMQX). `checkCount`
   * false: a copy another node already accepted (retained-sync), stored whatever the count
   * so every node holds the same set.
   */
  retain(msg: Message, checkCount = true): boolean {
    if (msg.payload.length === 0) {
      if (this.remove(msg.topic)) this.store?.deleteRetained(msg.topic);
      return true;
    }
    const sys = msg.topic.startsWith('$SYS');
    if (!sys) {
      const { maxPayloadSize, maxRetainedMessages } = this.limits;
      if (maxPayloadSize > 0 && msg.payload.length > maxPayloadSize) return this.refuse(msg, 'payload_too_large', maxPayloadSize);
      // full: a new topic is refused, replacing an existing one still works (EMQX)
      if (checkCount && maxRetainedMessages > 0 && this.userCount >= maxRetainedMessages && !this.byTopic.has(msg.topic)) {
        return this.refuse(msg, 'table_is_full', maxRetainedMessages);
      }
    }
    this.put(msg);
    // $SYS topics describe the running node and are published again at start
    if (this.store && !sys) this.store.putRetained(msg);
    return true;
  }

  /** Puts back a message read from the store (not written again; limits are for new writes). */
  restore(msg: Message): void {
    this.put(msg);
  }

  private put(msg: Message): void {
    if (this.byTopic.get(msg.topic) === undefined && !msg.topic.startsWith('$SYS')) this.userCount++;
    this.byTopic.set(msg.topic, msg);
  }

  private remove(topic: string): boolean {
    if (!this.byTopic.delete(topic)) return false;
    if (!topic.startsWith('$SYS')) this.userCount--;
    return true;
  }

  private refuse(msg: Message, reason: RetainDropReason, limit: number): false {
    this.dropped[reason]++;
    const config = reason === 'table_is_full' ? 'retainer.backend.max_retained_messages' : 'retainer.max_payload_size';
    const fields = { clientid: msg.from, topic: msg.topic, reason, config, limit, size: msg.payload.length };
    this.log?.event('warn', `retain_failed ${reason}`, fields, 'failed_to_retain_message');
    return false;
  }

  private expire(topic: string): void {
    this.remove(topic);
    this.store?.deleteRetained(topic);
  }

  match(filter: string, now: number): Message[] {
    if (!isWildcard(filter)) {
      const m = this.byTopic.get(filter);
      if (!m) return [];
      if (isExpired(m, now)) {
        this.expire(filter);
        return [];
      }
      return [m];
    }
    const out: Message[] = [];
    for (const [topic, m] of this.byTopic) {
      if (!topicMatches(filter, topic)) continue;
      if (isExpired(m, now)) this.expire(topic);
      else out.push(m);
    }
    return out;
  }

  /** Deletes every expired message (the background sweep: one nobody subscribes to would stay, on disk too). */
  sweepExpired(now: number): number {
    let n = 0;
    for (const [topic, m] of this.byTopic) {
      if (!isExpired(m, now)) continue;
      this.expire(topic);
      n++;
    }
    return n;
  }

  topics(): IterableIterator<string> {
    return this.byTopic.keys();
  }

  /** The retained message of `topic` (expired ones too, until they are swept). */
  get(topic: string): Message | undefined {
    return this.byTopic.get(topic);
  }

  messages(): IterableIterator<Message> {
    return this.byTopic.values();
  }

  /** Deletes one retained message, in the store too, without telling subscribers (an operator's clean). */
  delete(topic: string): boolean {
    if (!this.byTopic.has(topic)) return false;
    this.expire(topic);
    return true;
  }

  /** Deletes every retained message but `$SYS` ones (they describe the running node); returns how many. */
  deleteAll(): number {
    let n = 0;
    for (const topic of [...this.byTopic.keys()]) if (!topic.startsWith('$SYS') && this.delete(topic)) n++;
    return n;
  }

  clear(): void {
    this.byTopic.clear();
    this.userCount = 0;
  }
}

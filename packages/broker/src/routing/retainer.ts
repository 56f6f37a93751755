import { isWildcard, topicMatches } from '@vireo/mqtt';
import type { Message } from '../message.js';
import { isExpired } from '../message.js';
import type { RetainedStore } from '../persistence/store.js';

/**
 * Retained messages, one per topic. Exact filters are a Map lookup; a wildcard filter
 * scans the retained topics (retained sets are small next to message rates, and the
 * scan runs once per SUBSCRIBE, never per PUBLISH).
 */
export class Retainer {
  private readonly byTopic = new Map<string, Message>();
  /** Where changes go to survive a restart; unset = memory only. */
  store: RetainedStore | undefined;

  get size(): number {
    return this.byTopic.size;
  }

  /** Stores, replaces, or (empty payload) clears the retained message of `msg.topic`. */
  retain(msg: Message): void {
    if (msg.payload.length === 0) {
      if (this.byTopic.delete(msg.topic)) this.store?.deleteRetained(msg.topic);
    } else {
      this.byTopic.set(msg.topic, msg);
      // $SYS topics describe the running node and are published again at start
      if (this.store && !msg.topic.startsWith('$SYS')) this.store.putRetained(msg);
    }
  }

  /** Puts back a message read from the store (not written again). */
  restore(msg: Message): void {
    this.byTopic.set(msg.topic, msg);
  }

  private expire(topic: string): void {
    this.byTopic.delete(topic);
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
  }
}

/**
 * Telling copies of one message apart from two identical messages, when a session moves
 * between nodes (cm/takeover.ts): some of what reaches the session comes twice, once through
 * the old node's stand-in queue and once the direct way. A message forwarded between nodes
 * carries the node it was published on and its id there (Message.origin, peer protocol 4):
 * two copies are one message when those match. A node of an earlier release does not say
 * (origin ''); then, as before, copies are matched by publisher, publish time, topic and
 * payload, and two such publishes within one millisecond count as one.
 */
import type { Message } from '../message.js';
import type { Delivery } from '../session/types.js';

/** One message as every node knows it by content (message ids are per node). */
function contentKey(m: Message): string {
  return `${m.from}\u0000${m.timestamp}\u0000${m.topic}\u0000${m.payload.toString('latin1')}`;
}

/** Where `m` was published and its id there; undefined when not known (an earlier release forwarded it). */
export function exactId(m: Message, self: string): string | undefined {
  if (m.origin === '') return undefined;
  return m.origin === undefined ? `${self}\u0000${m.id}` : `${m.origin}\u0000${m.originId ?? 0}`;
}

/** A multiset of messages: each `take` matches one copy, by exact id where both sides know it. */
export class Copies {
  private readonly byContent = new Map<string, (string | undefined)[]>();

  /** `self`: this node's name (messages published here carry no origin). */
  constructor(private readonly self: string) {}

  static of(self: string, ds: Iterable<Delivery>): Copies {
    const c = new Copies(self);
    for (const d of ds) c.add(d.msg);
    return c;
  }

  get size(): number {
    return this.byContent.size;
  }

  add(m: Message): void {
    const k = contentKey(m);
    const ids = this.byContent.get(k);
    if (ids) ids.push(exactId(m, this.self));
    else this.byContent.set(k, [exactId(m, this.self)]);
  }

  /** Whether `m` is a copy of one held here (then that one is taken). */
  take(m: Message): boolean {
    const k = contentKey(m);
    const ids = this.byContent.get(k);
    if (!ids) return false;
    const id = exactId(m, this.self);
    // same content, both ids known and different: two publishes, not copies
    let i = id === undefined ? 0 : ids.indexOf(id);
    if (i < 0) i = ids.indexOf(undefined);
    if (i < 0) return false;
    ids.splice(i, 1);
    if (ids.length === 0) this.byContent.delete(k);
    return true;
  }
}

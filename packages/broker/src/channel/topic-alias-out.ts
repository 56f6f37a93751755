/**
 * Topic aliases the broker uses towards one MQTT 5 client (server → client, MQTT 5 §3.3.2.3.4).
 *
 * The client announces how many it accepts (Topic Alias Maximum in CONNECT); the broker uses
 * at most that many, and at most `mqtt.max_topic_alias_out`. A topic's first PUBLISH carries
 * the topic and the alias, later ones an empty topic and the alias. When every alias is taken,
 * the least recently used one is given to the new topic (its PUBLISH carries the topic again,
 * which rebinds the alias at the client). The table lives exactly as long as the network
 * connection: the client forgets the mapping when it ends [MQTT-3.3.2-7], so a session that
 * reconnects (and resends its unacknowledged messages) starts with an empty one.
 *
 * Only bytes written to the socket change the table (`use`, after the packet is built and
 * accepted), so the broker's table and the client's are the same at every packet.
 */
export class OutboundAliases {
  /** topic → alias, least recently used first (a Map keeps insertion order). */
  private readonly byTopic = new Map<string, number>();
  /** Aliases 1..assigned have been given out. */
  private assigned = 0;
  /** The topic used last: repeated sends to one topic skip the reordering. */
  private last = '';

  constructor(readonly max: number) {}

  /** The alias the client knows this topic by, or 0. */
  find(topic: string): number {
    return this.byTopic.get(topic) ?? 0;
  }

  /**
   * The alias a topic without one would get: the next unused one, else the least recently used
   * one's. 0 for topics too short to gain anything (the alias property costs 3 bytes).
   */
  candidate(topic: string): number {
    if (topic.length <= 3) return 0;
    if (this.assigned < this.max) return this.assigned + 1;
    for (const alias of this.byTopic.values()) return alias;
    return 0;
  }

  /** A PUBLISH with `alias` went out: `known` if it carried an empty topic, else it (re)bound the alias to `topic`. */
  use(topic: string, alias: number, known: boolean): void {
    const map = this.byTopic;
    if (known) {
      if (topic === this.last) return;
      map.delete(topic);
    } else if (alias > this.assigned) {
      this.assigned = alias;
    } else {
      // the least recently used topic gives its alias up
      for (const old of map.keys()) {
        map.delete(old);
        break;
      }
    }
    map.set(topic, alias);
    this.last = topic;
  }

  /** Aliases in use (for tests and the client view). */
  get size(): number {
    return this.byTopic.size;
  }
}

/**
 * The rule engine of one node. The broker's events are only looked at here: a published
 * message costs one trie lookup of its topic among the rules' FROM filters (nothing more
 * when no rule matches), and an event no rule names has no listener at all. A match is
 * queued; rules run after the broker's dispatch, in a setImmediate batch with a time
 * budget, so delivery never waits for a rule and a burst cannot hold the event loop.
 * Each message is evaluated on the node where it was published (message.publish fires
 * there only); events on the node where they happen.
 */
import { hostOf, type Broker, type ClientInfo, type ConnackInfo, type Message, type SubOptions } from '@vireo/broker';
import { SubscriptionTrie } from '@vireo/mqtt';
import type { Logger } from 'pino';
import { actionRefName, newRuleMetrics, parseActionRef, type ActionRef, type RuleAction, type RuleMetrics } from './actions/action.js';
import { RepublishAction } from './actions/republish.js';
import * as ev from './events.js';
import type { ClientFacts, ConnectionFacts, EventName, Fields } from './events.js';
import { compileRuleSql, type CompiledSql } from './rule-sql.js';
import { EventContext, type Output } from './sql/compile.js';
import { RuleEvalError } from './sql/functions.js';

/** A rule as configured or sent to the API (EMQX 5's fields). */
export interface RuleSpec {
  id: string;
  sql: string;
  actions: readonly unknown[];
  enable: boolean;
  description: string;
}

export interface RuleInfo extends Omit<RuleSpec, 'actions'> {
  actions: ActionRef[];
  from: string[];
  /** Where it was defined: `config` (vireo.yaml / env) or `api`. */
  source: 'config' | 'api';
  created_at: number;
  metrics: RuleMetrics;
}

/** A rule (or its actions) refused: `field` is `sql` or `actions[i]`. */
export class RuleError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'RuleError';
  }
}

interface Rule {
  info: RuleInfo;
  sql: CompiledSql;
  actions: RuleAction[];
}

interface Pending {
  rules: Rule[];
  fields: () => Fields;
}

export interface RuleEngineOptions {
  logger: Logger;
  /** Named actions (`pgsql:store_temp`, …) rules may refer to. */
  actions?: ReadonlyMap<string, RuleAction>;
  /** Events waiting for evaluation beyond this are dropped (counted, logged): memory stays bounded. */
  maxPending?: number;
  /** Time one batch may take before yielding to the event loop (ms). */
  batchBudgetMs?: number;
}

export interface EngineStats {
  /** Events dropped because evaluation fell this far behind. */
  dropped: number;
  pending: number;
}

export class RuleEngine {
  private readonly rules = new Map<string, Rule>();
  private readonly topics = new SubscriptionTrie<Rule>();
  private byEvent = new Map<EventName, Rule[]>();
  private readonly detach = new Map<string, () => void>();
  private queue: Pending[] = [];
  private head = 0;
  private scheduled = false;
  private closed = false;
  /** The rule whose republish is on the stack: its own message is not fed back to it. */
  private republishing: string | undefined;
  private readonly connacks = new Map<string, ConnectionFacts>();
  private readonly node: string;
  private readonly logger: Logger;
  private readonly maxPending: number;
  private readonly budget: number;
  private lastEvalLog = 0;
  readonly stats: EngineStats = { dropped: 0, pending: 0 };

  constructor(
    private readonly broker: Broker,
    private readonly options: RuleEngineOptions,
  ) {
    this.node = broker.options.nodeName;
    this.logger = options.logger;
    this.maxPending = options.maxPending ?? 100_000;
    this.budget = options.batchBudgetMs ?? 10;
  }

  /** Compiles and (re)places a rule; throws RuleError (with the SQL's line and column) and changes nothing then. */
  put(spec: RuleSpec, source: RuleInfo['source'] = 'api'): RuleInfo {
    const rule = this.build(spec, source);
    const old = this.rules.get(spec.id);
    if (old) {
      this.unindex(old);
      rule.info.metrics = old.info.metrics;
      rule.info.created_at = old.info.created_at;
    }
    this.rules.set(spec.id, rule);
    if (rule.info.enable) this.index(rule);
    this.listen();
    return rule.info;
  }

  /** Checks a rule without adding it: the errors put() would throw. */
  check(spec: RuleSpec): void {
    this.build(spec, 'api');
  }

  delete(id: string): boolean {
    const rule = this.rules.get(id);
    if (!rule) return false;
    this.unindex(rule);
    this.rules.delete(id);
    this.listen();
    return true;
  }

  get(id: string): RuleInfo | undefined {
    return this.rules.get(id)?.info;
  }

  list(): RuleInfo[] {
    return [...this.rules.values()].map((r) => r.info);
  }

  /** EMQX's rule_test: runs `sql` on a sample event; the output, or undefined when FROM or WHERE does not match. */
  test(sql: string, context: Fields): Output | undefined {
    const compiled = compileRuleSql(sql);
    const event = typeof context.event === 'string' ? context.event : 'message.publish';
    if (event === 'message.publish') {
      const topic = typeof context.topic === 'string' ? context.topic : '';
      const t = new SubscriptionTrie<true>();
      for (const f of compiled.topics) t.set(f, 'x', true);
      let hit = false;
      t.match(topic, () => (hit = true));
      if (!hit) return undefined;
    } else if (!compiled.events.includes(event as EventName)) return undefined;
    return compiled.run(new EventContext(context));
  }

  close(): void {
    this.closed = true;
    for (const off of this.detach.values()) off();
    this.detach.clear();
    this.queue = [];
    this.head = 0;
  }

  private build(spec: RuleSpec, source: RuleInfo['source']): Rule {
    let sql: CompiledSql;
    try {
      sql = compileRuleSql(spec.sql);
    } catch (err) {
      throw new RuleError('sql', (err as Error).message);
    }
    const refs: ActionRef[] = [];
    const actions: RuleAction[] = [];
    spec.actions.forEach((raw, i) => {
      const r = parseActionRef(raw);
      if ('error' in r) throw new RuleError(`actions[${i}]`, r.error);
      refs.push(r.ref);
      actions.push(this.actionFor(r.ref, i));
    });
    const from = [
      ...sql.topics,
      ...Object.entries(ev.EVENT_TOPICS)
        .filter(([, e]) => sql.events.includes(e))
        .map(([t]) => t),
    ];
    const info: RuleInfo = {
      id: spec.id,
      sql: spec.sql,
      actions: refs,
      enable: spec.enable,
      description: spec.description,
      from,
      source,
      created_at: Date.now(),
      metrics: newRuleMetrics(),
    };
    return { info, sql, actions };
  }

  private actionFor(ref: ActionRef, i: number): RuleAction {
    if (typeof ref === 'string') {
      const a = this.options.actions?.get(ref);
      if (!a) throw new RuleError(`actions[${i}]`, `no action ${ref} (define actions.${ref.replace(':', '.')} in the configuration)`);
      return a;
    }
    if (ref.function === 'console') {
      return { id: 'console', send: (out, m, ruleId) => (this.logger.info({ rule_id: ruleId, output: out }, 'Rule output'), m['actions.success']++) };
    }
    return new RepublishAction(this.broker, ref.args, this.logger, (id) => (this.republishing = id));
  }

  private index(rule: Rule): void {
    for (const f of rule.sql.topics) this.topics.set(f, rule.info.id, rule);
    if (rule.sql.events.length) this.rebuildEvents();
  }

  private unindex(rule: Rule): void {
    for (const f of rule.sql.topics) this.topics.delete(f, rule.info.id);
    if (rule.sql.events.length) this.rebuildEvents();
  }

  private rebuildEvents(): void {
    const m = new Map<EventName, Rule[]>();
    for (const r of this.rules.values()) {
      if (!r.info.enable) continue;
      for (const e of r.sql.events) (m.get(e) ?? m.set(e, []).get(e)!).push(r);
    }
    this.byEvent = m;
  }

  /** Listens to exactly the broker events some enabled rule needs. */
  private listen(): void {
    if (this.closed) return;
    const want = new Set<string>(this.byEvent.keys());
    if (this.topics.size > 0) want.add('message.publish');
    // client_connected takes clean_start and expiry from the CONNACK just before it
    if (want.has('client.connected')) want.add('connack.facts');
    for (const [name, off] of this.detach) {
      if (!want.has(name)) {
        off();
        this.detach.delete(name);
      }
    }
    for (const name of want) if (!this.detach.has(name)) this.detach.set(name, this.attach(name));
  }

  private attach(name: string): () => void {
    const b = this.broker;
    const on = <A extends unknown[]>(event: string, handler: (...args: A) => void) => {
      (b.on as (e: string, h: (...a: A) => void) => void)(event, handler);
      return () => (b.off as (e: string, h: (...a: A) => void) => void)(event, handler);
    };
    const node = this.node;
    const facts = (clientId: string): ClientFacts => {
      const ch = b.connection(clientId);
      return { username: ch?.username ?? null, peerhost: ch ? hostOf(ch.peer) : null };
    };
    switch (name) {
      case 'message.publish':
        return on('message.publish', (m: Message) => this.onPublish(m, facts));
      case 'connack.facts':
        return on('client.connack', (c: ConnackInfo) => {
          // a CONNACK whose connection closed before client.connected leaves its entry: keep the map small
          if (this.connacks.size > 10_000) this.connacks.clear();
          if (c.reasonCode === 0)
            this.connacks.set(c.clientId, {
              keepalive: c.keepalive,
              cleanStart: c.cleanStart,
              expiryInterval: c.expiryInterval,
              connProps: c.connProps ?? {},
              connectedAt: Date.now(),
            });
        });
      case 'client.connected':
        return on('client.connected', (c: ClientInfo) => {
          const f = this.connacks.get(c.clientId) ?? {
            keepalive: b.connection(c.clientId)?.keepalive ?? 0,
            cleanStart: true,
            expiryInterval: 0,
            connProps: {},
            connectedAt: Date.now(),
          };
          this.connacks.delete(c.clientId);
          this.event('client.connected', () => ev.clientConnected(node, c, f));
        });
      case 'client.disconnected':
        return on('client.disconnected', (c: ClientInfo, reason: string) => this.event('client.disconnected', () => ev.clientDisconnected(node, c, reason)));
      case 'client.connack':
        return on('client.connack', (c: ConnackInfo) => this.event('client.connack', () => ev.clientConnack(node, c)));
      case 'session.subscribed':
        return on('session.subscribed', (c: ClientInfo, t: string, o: SubOptions) => this.event('session.subscribed', () => ev.sessionSubscribed(node, c, t, o)));
      case 'session.unsubscribed':
        return on('session.unsubscribed', (c: ClientInfo, t: string) => this.event('session.unsubscribed', () => ev.sessionUnsubscribed(node, c, t)));
      case 'message.delivered':
      case 'message.acked':
        return on(name, (clientId: string, m: Message) => {
          const to = facts(clientId);
          const from = facts(m.from);
          this.event(name, () => ev.messageTo(name, node, clientId, m, to, from));
        });
      case 'message.dropped':
        return on('message.dropped', (m: Message, reason: string) => {
          // drops on the way to one subscriber are delivery_dropped (delivery.dropped names the subscriber)
          if (reason !== 'no_subscribers') return;
          const from = facts(m.from);
          this.event('message.dropped', () => ev.messageDropped(node, m, reason, from));
        });
      case 'delivery.dropped':
        return on('delivery.dropped', (clientId: string, m: Message, reason: string) => {
          const to = facts(clientId);
          const from = facts(m.from);
          this.event('delivery.dropped', () => ev.messageTo('delivery.dropped', node, clientId, m, to, from, reason));
        });
      default:
        return () => undefined;
    }
  }

  private matched: Rule[] = [];
  private readonly collect = (_id: string, rule: Rule) => {
    if (rule.info.id !== this.republishing && !this.matched.includes(rule)) this.matched.push(rule);
  };

  private onPublish(m: Message, facts: (clientId: string) => ClientFacts): void {
    this.topics.match(m.topic, this.collect);
    if (this.matched.length === 0) return;
    const rules = this.matched;
    this.matched = [];
    const from = facts(m.from);
    this.enqueue({ rules, fields: () => ev.messagePublish(this.node, m, from) });
  }

  private event(name: EventName, fields: () => Fields): void {
    const rules = this.byEvent.get(name);
    if (rules?.length) this.enqueue({ rules, fields });
  }

  private enqueue(p: Pending): void {
    if (this.closed) return;
    if (this.queue.length - this.head >= this.maxPending) {
      if (this.stats.dropped++ % 10_000 === 0) this.logger.warn({ max_pending: this.maxPending, dropped: this.stats.dropped }, 'Rule engine is behind, events dropped');
      return;
    }
    this.queue.push(p);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = () => {
    this.scheduled = false;
    const deadline = performance.now() + this.budget;
    let n = 0;
    while (this.head < this.queue.length && !this.closed) {
      const p = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Pending;
      this.evaluate(p);
      // check the clock every 64 events: a burst yields to I/O
      if ((++n & 63) === 0 && performance.now() > deadline) break;
    }
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (!this.scheduled && !this.closed) {
      if (this.head > 4096) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.scheduled = true;
      setImmediate(this.flush);
    }
    this.stats.pending = this.queue.length - this.head;
  };

  private evaluate(p: Pending): void {
    const ctx = new EventContext(p.fields());
    for (const rule of p.rules) {
      const m = rule.info.metrics;
      m.matched++;
      let out: Output | undefined;
      try {
        out = rule.sql.run(ctx);
      } catch (err) {
        m.failed++;
        m['failed.exception']++;
        this.logEvalError(rule.info.id, err);
        continue;
      }
      if (out === undefined) {
        m['failed.no_result']++;
        continue;
      }
      m.passed++;
      for (const a of rule.actions) {
        m['actions.total']++;
        try {
          a.send(out, m, rule.info.id);
        } catch (err) {
          m['actions.failed']++;
          this.logger.warn({ rule_id: rule.info.id, action: a.id, err: (err as Error).message }, 'Rule action failed');
        }
      }
    }
  }

  private logEvalError(ruleId: string, err: unknown): void {
    if (!(err instanceof RuleEvalError)) {
      this.logger.error({ rule_id: ruleId, err }, 'Rule evaluation failed');
      return;
    }
    // a bad payload can fail every message: one line a second is enough to see it
    const now = Date.now();
    if (now - this.lastEvalLog < 1000) return;
    this.lastEvalLog = now;
    this.logger.warn({ rule_id: ruleId, reason: err.message }, 'Rule SQL failed on an event');
  }

  /** Names of the actions of a rule, for listings. */
  static actionNames(info: RuleInfo): string[] {
    return info.actions.map(actionRefName);
  }
}

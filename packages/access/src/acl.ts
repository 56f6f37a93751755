/**
 * Authorization rules with the semantics of EMQX's file source (acl.conf), written as YAML or
 * JSON instead of Erlang terms. Rules are checked top to bottom; the first one whose `who`,
 * `action` and `topics` all match decides; none matching leaves it to `authorization.no_match`.
 *
 *   - permission: allow            # allow | deny
 *     who: {username: dashboard}   # all (default) | {username|clientid: NAME or {re: REGEX}}
 *                                  # | {ipaddr: CIDR} | {ipaddrs: [CIDR…]} | {and|or: [WHO…]}
 *     action: subscribe            # publish | subscribe | all (default)
 *     topics: ["$SYS/#", {eq: "#"}]  # filters (with ${username} / ${clientid}, or %u / %c),
 *                                  # {eq: F} = exactly the filter F, taken literally; default: every topic
 *     qos: [1, 2]                  # only requests of these QoS (default: any)
 *     retain: true                 # publish only: only retained (true) or only plain (false) messages
 *
 * A placeholder whose value holds `+` or `#` makes its rule not apply to that client. A
 * subscription with wildcards that overlaps a subscribe deny is checked again per delivered
 * message (`overlapsDeny` at subscribe, `checkDelivery` per message): stricter than EMQX.
 */
import { BlockList, isIP } from 'node:net';
import { parseSharedFilter, topicFilterError } from '@vireo/mqtt';
import type { AuthorizeAction, ClientInfo } from '@vireo/broker';
import { filterCovers, filtersOverlap, hasPlaceholders, isWildcardFilter, matchName, renderFilter } from './acl-topics.js';

export { filterCovers } from './acl-topics.js';

export type AclPermission = 'allow' | 'deny';
export type AclAction = AuthorizeAction | 'all';
type NameMatch = string | { re: string };
export type AclWho = 'all' | { username: NameMatch } | { clientid: NameMatch } | { ipaddr: string } | { ipaddrs: string[] } | { and: AclWho[] } | { or: AclWho[] };
export interface AclRule {
  permission: AclPermission;
  who?: AclWho;
  action?: AclAction;
  topics?: (string | { eq: string })[];
  /** Only PUBLISHes / SUBSCRIBEs of these QoS levels (EMQX's `{qos, [..]}`); absent: any. */
  qos?: number | number[];
  /** Only retained (true) or only plain (false) PUBLISHes (EMQX's `{retain, B}`); ignored for subscribe. */
  retain?: boolean;
}

export type AclDecision = 'allow' | 'deny' | 'nomatch';

interface Topic {
  eq: boolean;
  filter: string;
  placeholders: boolean;
  /** Whether a topic name can match it (an `eq` with wildcards matches only that filter). */
  names: boolean;
  /** The filter split once, when it has no placeholders (for matching topic names). */
  levels: string[] | undefined;
  /** With placeholders: the filter filled in for each client (null: the rule does not apply to it), worked out once. */
  rendered: WeakMap<ClientInfo, { filter: string; levels: string[] } | null> | undefined;
}

type Who = (c: ClientInfo, ip: string) => boolean;

interface Compiled {
  allow: boolean;
  who: Who;
  /** `who` looks at the username or the address (else the client id alone decides). */
  identity: boolean;
  publish: boolean;
  subscribe: boolean;
  /** undefined: every topic */
  topics: Topic[] | undefined;
  /** Bit n set: QoS n matches; 0: any QoS. */
  qos: number;
  /** undefined: retained or not. */
  retain: boolean | undefined;
}

/** A rule file that cannot be used: the message names the rule and the field. */
export class AclError extends Error {}

export class Acl {
  /** Some rule looks at the client's address (else callers need not work it out per message). */
  readonly usesAddress: boolean;
  /** Some subscribe deny can match a topic name (else no subscription needs a delivery check). */
  readonly hasSubscribeDeny: boolean;

  /** Which rules' `who` a client (one connection's ClientInfo) passes: decided once per client. */
  private readonly whoOf = new WeakMap<ClientInfo, Uint8Array>();

  private constructor(
    private readonly rules: Compiled[],
    usesAddress: boolean,
  ) {
    this.usesAddress = usesAddress;
    this.hasSubscribeDeny = rules.some((r) => !r.allow && r.subscribe && (r.topics === undefined || r.topics.some((t) => t.names)));
  }

  get size(): number {
    return this.rules.length;
  }

  /** Validates and compiles rules read from a file (any shape: it is checked here). */
  static compile(raw: unknown, source: string): Acl {
    if (raw === null || raw === undefined) return new Acl([], false);
    if (!Array.isArray(raw)) throw new AclError(`${source}: expected a list of rules`);
    const seen = { address: false, identity: false };
    const rules = raw.map((r, i) => compileRule(r, `${source}: rule ${i + 1}`, seen));
    return new Acl(rules, seen.address);
  }

  /**
   * `ip` is the client's address without port (may be '' when `usesAddress` is false). `qos`
   * and `retain`: the request's (the PUBLISH's, or the QoS a SUBSCRIBE asks for); when a
   * caller does not know them, a rule with such a condition is taken at its strictest (a
   * deny applies, an allow does not).
   */
  check(client: ClientInfo, ip: string, action: AuthorizeAction, topic: string, qos?: number, retain?: boolean): AclDecision {
    const target = action === 'subscribe' ? innerFilter(topic) : topic;
    const who = this.whoFor(client, ip);
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (!(action === 'publish' ? r.publish : r.subscribe) || who[i] === 0) continue;
      if ((r.qos !== 0 || r.retain !== undefined) && !conditionsMet(r, action, qos, retain)) continue;
      if (r.topics === undefined || r.topics.some((t) => topicMatch(t, client, action, target))) return r.allow ? 'allow' : 'deny';
    }
    return 'nomatch';
  }

  /** A client's `who` results, per rule (a client's name and address do not change while it is connected). */
  private whoFor(client: ClientInfo, ip: string): Uint8Array {
    let w = this.whoOf.get(client);
    if (w === undefined) {
      w = new Uint8Array(this.rules.length);
      for (let i = 0; i < w.length; i++) w[i] = this.rules[i]!.who(client, ip) ? 1 : 0;
      this.whoOf.set(client, w);
    }
    return w;
  }

  /**
   * For an allowed subscription: whether it has wildcards and a subscribe deny that applies to
   * this client matches some of its topics, so each delivered message must be checked.
   */
  overlapsDeny(client: ClientInfo, ip: string, fullFilter: string): boolean {
    const filter = innerFilter(fullFilter);
    if (!isWildcardFilter(filter)) return false;
    for (const r of this.rules) {
      // a QoS condition was decided at SUBSCRIBE (the subscription's QoS does not change per message)
      if (r.allow || !r.subscribe || r.qos !== 0 || !r.who(client, ip)) continue;
      if (r.topics === undefined) return true;
      for (const t of r.topics) {
        if (!t.names) continue;
        const f = t.placeholders ? renderFilter(t.filter, client) : t.filter;
        if (f !== undefined && filtersOverlap(f, filter)) return true;
      }
    }
    return false;
  }

  /**
   * A message for a marked subscription: decided as a SUBSCRIBE to exactly its topic would be.
   * `client` undefined: a stored session whose client has not connected since this node
   * started; its username and address are unknown, so rules that look at them are taken at
   * their strictest (a deny applies, an allow does not).
   */
  checkDelivery(client: ClientInfo | { clientId: string; username?: undefined }, ip: string | undefined, topic: string): AclDecision {
    const info = client as ClientInfo;
    const who = ip === undefined ? undefined : this.whoFor(info, ip);
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (!r.subscribe || r.qos !== 0) continue;
      if (who === undefined) {
        if (r.identity ? r.allow : !r.who(info, '')) continue;
      } else if (who[i] === 0) continue;
      if (r.topics === undefined || r.topics.some((t) => topicMatch(t, info, 'publish', topic))) return r.allow ? 'allow' : 'deny';
    }
    return 'nomatch';
  }
}

/** Whether a rule's QoS and retain conditions hold for a request (unknown facts: only a deny's do). */
function conditionsMet(r: Compiled, action: AuthorizeAction, qos: number | undefined, retain: boolean | undefined): boolean {
  if (r.qos !== 0 && (qos === undefined ? r.allow : (r.qos & (1 << qos)) === 0)) return false;
  if (r.retain !== undefined && action === 'publish' && (retain === undefined ? r.allow : retain !== r.retain)) return false;
  return true;
}

/** A shared subscription is authorized on its filter, as EMQX does. */
function innerFilter(full: string): string {
  const shared = parseSharedFilter(full);
  return shared && typeof shared === 'object' ? shared.filter : full;
}

/** `publish`: `target` is a topic name (also for a delivery); `subscribe`: a filter. */
function topicMatch(t: Topic, c: ClientInfo, action: AuthorizeAction, target: string): boolean {
  let filter = t.filter;
  let levels = t.levels;
  if (t.rendered !== undefined) {
    let r = t.rendered.get(c);
    if (r === undefined) {
      const f = renderFilter(t.filter, c);
      r = f === undefined ? null : { filter: f, levels: f.split('/') };
      t.rendered.set(c, r);
    }
    if (r === null) return false;
    filter = r.filter;
    levels = r.levels;
  }
  if (t.eq) return filter === target;
  return action === 'publish' ? matchName(levels!, target) : filterCovers(filter, target);
}

/** What compiling found out: about the rules as a whole (address), about one rule's who (identity). */
interface Seen {
  address: boolean;
  identity: boolean;
}

function compileRule(raw: unknown, where: string, seen: Seen): Compiled {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AclError(`${where}: expected a map with permission, who, action, topics`);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!FIELDS.includes(k)) throw new AclError(`${where}: unknown field ${k} (a rule has ${FIELDS.join(', ')})`);
  if (r.permission !== 'allow' && r.permission !== 'deny') throw new AclError(`${where}: permission must be allow or deny`);
  const action = r.action ?? 'all';
  if (action !== 'publish' && action !== 'subscribe' && action !== 'all') throw new AclError(`${where}: action must be publish, subscribe or all`);
  let topics: Compiled['topics'];
  if (r.topics !== undefined) {
    if (!Array.isArray(r.topics)) throw new AclError(`${where}: topics must be a list`);
    topics = r.topics.map((t: unknown) => {
      const eq = typeof t === 'object' && t !== null && typeof (t as { eq?: unknown }).eq === 'string';
      const filter = eq ? (t as { eq: string }).eq : t;
      if (typeof filter !== 'string' || filter === '') throw new AclError(`${where}: each topic is a filter or {eq: TOPIC}`);
      const err = eq ? null : topicFilterError(filter);
      if (err) throw new AclError(`${where}: topic ${filter}: ${err}`);
      let placeholders = false;
      try {
        // {eq: F} is F as written: no placeholders filled in (EMQX's eq)
        if (!eq) placeholders = hasPlaceholders(filter);
      } catch (e) {
        throw new AclError(`${where}: topic ${filter}: ${(e as Error).message}`);
      }
      return {
        eq,
        filter,
        placeholders,
        names: !(eq && isWildcardFilter(filter)),
        levels: placeholders ? undefined : filter.split('/'),
        rendered: placeholders ? new WeakMap() : undefined,
      };
    });
  }
  let qos = 0;
  if (r.qos !== undefined) {
    const levels = Array.isArray(r.qos) ? (r.qos as unknown[]) : [r.qos];
    if (levels.length === 0 || levels.some((q) => q !== 0 && q !== 1 && q !== 2)) throw new AclError(`${where}: qos must be 0, 1, 2 or a list of them`);
    for (const q of levels as number[]) qos |= 1 << q;
  }
  if (r.retain !== undefined && typeof r.retain !== 'boolean') throw new AclError(`${where}: retain must be true or false`);
  seen.identity = false;
  const who = compileWho(r.who ?? 'all', where, seen);
  return {
    allow: r.permission === 'allow',
    who,
    identity: seen.identity,
    publish: action !== 'subscribe',
    subscribe: action !== 'publish',
    topics,
    qos,
    retain: r.retain,
  };
}

const FIELDS = ['permission', 'who', 'action', 'topics', 'qos', 'retain'];

function compileWho(w: unknown, where: string, seen: Seen): Compiled['who'] {
  if (w === 'all') return () => true;
  if (typeof w !== 'object' || w === null || Array.isArray(w) || Object.keys(w).length !== 1) {
    throw new AclError(`${where}: who must be all or one of {username|clientid|ipaddr|ipaddrs|and|or: …}`);
  }
  const [kind, v] = Object.entries(w)[0] as [string, unknown];
  switch (kind) {
    case 'username': {
      seen.identity = true;
      const m = nameMatcher(v, where);
      return (c) => c.username !== undefined && m(c.username);
    }
    case 'clientid': {
      const m = nameMatcher(v, where);
      return (c) => m(c.clientId);
    }
    case 'ipaddr':
    case 'ipaddrs': {
      seen.address = true;
      seen.identity = true;
      const list = new BlockList();
      for (const a of kind === 'ipaddr' ? [v] : Array.isArray(v) ? v : [undefined]) addAddress(list, a, where);
      return (_c, ip) => {
        const family = isIP(ip);
        return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
      };
    }
    case 'and':
    case 'or': {
      if (!Array.isArray(v) || v.length === 0) throw new AclError(`${where}: ${kind} takes a list of who`);
      const parts = v.map((x: unknown) => compileWho(x, where, seen));
      return kind === 'and' ? (c, ip) => parts.every((p) => p(c, ip)) : (c, ip) => parts.some((p) => p(c, ip));
    }
    default:
      throw new AclError(`${where}: unknown who ${kind}`);
  }
}

function nameMatcher(v: unknown, where: string): (s: string) => boolean {
  if (typeof v === 'string') return (s) => s === v;
  if (typeof v === 'object' && v !== null && typeof (v as { re?: unknown }).re === 'string') {
    let re: RegExp;
    try {
      re = new RegExp((v as { re: string }).re);
    } catch (err) {
      throw new AclError(`${where}: bad regular expression: ${(err as Error).message}`);
    }
    return (s) => re.test(s);
  }
  throw new AclError(`${where}: a name or {re: REGEX}`);
}

function addAddress(list: BlockList, a: unknown, where: string): void {
  if (typeof a !== 'string') throw new AclError(`${where}: an address or CIDR, e.g. 10.0.0.0/8`);
  const [ip, bits] = a.split('/');
  const family = isIP(ip);
  const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) throw new AclError(`${where}: ${a} is not an address or CIDR`);
  list.addSubnet(ip, prefix, family === 6 ? 'ipv6' : 'ipv4');
}

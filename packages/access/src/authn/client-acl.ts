/**
 * A client's own rules, as an authenticator hands them over (a JWT's `acl` claim, the `acl`
 * of an HTTP authentication answer), in EMQX 5's two forms, compiled to an `Acl`:
 *
 * - the list (EMQX 5.5+): `[{permission, action, topic | topics, qos?, retain?, clientid_re?,
 *   username_re?, ipaddr?}]`; a request none of them matches goes on to the authorization
 *   sources;
 * - the older object `{pub: [..], sub: [..], all: [..]}` of topics allowed: a whitelist, so a
 *   request none of them allows is denied (it does not go on to the sources), as in EMQX.
 *
 * A topic written `eq t/${username}` is that filter exactly, placeholders not filled in.
 */
import { Acl, AclError, type AclRule, type AclWho } from '../acl.js';

const ITEM_FIELDS = ['permission', 'action', 'topic', 'topics', 'qos', 'retain', 'clientid_re', 'username_re', 'ipaddr'];
const OLD_KEYS = ['pub', 'sub', 'all'];

/** Throws AclError naming `source` and the entry when `raw` is not rules in either form. */
export function clientAcl(raw: unknown, source: string): Acl {
  if (Array.isArray(raw))
    return Acl.compile(
      raw.map((r, i) => listItem(r, `${source}: rule ${i + 1}`)),
      source,
    );
  if (typeof raw === 'object' && raw !== null) {
    const o = raw as Record<string, unknown>;
    const rules: AclRule[] = [];
    for (const [k, v] of Object.entries(o)) {
      if (!OLD_KEYS.includes(k)) throw new AclError(`${source}: unknown key ${k} (the older form has pub, sub, all)`);
      rules.push({ permission: 'allow', action: action(k, `${source}: ${k}`), topics: topicList(v, `${source}: ${k}`) });
    }
    // a whitelist: what it does not allow is denied here, not passed to the sources
    rules.push({ permission: 'deny' });
    return Acl.compile(rules, source);
  }
  throw new AclError(`${source}: expected a list of rules or {pub, sub, all}`);
}

function listItem(raw: unknown, where: string): AclRule {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AclError(`${where}: expected {permission, action, topic}`);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!ITEM_FIELDS.includes(k)) throw new AclError(`${where}: unknown field ${k}`);
  if (r.topic === undefined && r.topics === undefined) throw new AclError(`${where}: topic is required`);
  const topics = r.topics !== undefined ? topicList(r.topics, where) : [topicOf(r.topic, where)];
  const who: AclWho[] = [];
  if (r.clientid_re !== undefined) who.push({ clientid: { re: str(r.clientid_re, 'clientid_re', where) } });
  if (r.username_re !== undefined) who.push({ username: { re: str(r.username_re, 'username_re', where) } });
  if (r.ipaddr !== undefined) who.push({ ipaddr: str(r.ipaddr, 'ipaddr', where) });
  const rule: AclRule = { permission: r.permission as AclRule['permission'], action: action(r.action ?? 'all', where), topics };
  if (who.length > 0) rule.who = who.length === 1 ? who[0] : { and: who };
  if (r.qos !== undefined) rule.qos = r.qos as number[];
  if (r.retain !== undefined) rule.retain = r.retain as boolean;
  return rule;
}

function action(a: unknown, where: string): AclRule['action'] {
  if (a === 'pub' || a === 'publish') return 'publish';
  if (a === 'sub' || a === 'subscribe') return 'subscribe';
  if (a === 'all') return 'all';
  throw new AclError(`${where}: action must be publish, subscribe or all`);
}

function topicList(v: unknown, where: string): (string | { eq: string })[] {
  if (!Array.isArray(v)) throw new AclError(`${where}: expected a list of topics`);
  return v.map((t) => topicOf(t, where));
}

/** `eq a/#` → exactly that filter; anything else a filter (with placeholders). */
function topicOf(t: unknown, where: string): string | { eq: string } {
  if (typeof t !== 'string' || t === '') throw new AclError(`${where}: a topic is a non-empty string`);
  return t.startsWith('eq ') ? { eq: t.slice(3) } : t;
}

function str(v: unknown, field: string, where: string): string {
  if (typeof v !== 'string' || v === '') throw new AclError(`${where}: ${field} must be a string`);
  return v;
}

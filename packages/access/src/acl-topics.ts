/**
 * Topic filters as ACL rules use them: placeholders filled in per client, whether a
 * subscription lies inside a rule's filter, and whether two filters share any topic.
 */
import type { ClientInfo } from '@vireo/broker';

/** `%u`/`%c` (EMQX 4, Mosquitto) and `${username}`/`${clientid}` (EMQX 5). */
const PLACEHOLDER = /%u|%c|\$\{username\}|\$\{clientid\}/g;
const ANY_PLACEHOLDER = /\$\{([^}]*)\}/g;

/** Whether a rule's filter has placeholders; throws on `${…}` names rules do not know. */
export function hasPlaceholders(filter: string): boolean {
  for (const m of filter.matchAll(ANY_PLACEHOLDER)) {
    if (m[1] !== 'username' && m[1] !== 'clientid') throw new Error(`unknown placeholder \${${m[1]}} (rules know \${username}, \${clientid}, %u, %c)`);
  }
  PLACEHOLDER.lastIndex = 0;
  return PLACEHOLDER.test(filter);
}

/**
 * The filter with this client's values, or undefined when the rule does not apply to it: no
 * username for a username placeholder, or a value holding `+` or `#`, which would turn the
 * placeholder into a wildcard over other clients' topics (CVE-2017-7650).
 */
export function renderFilter(filter: string, c: ClientInfo): string | undefined {
  let ok = true;
  const out = filter.replace(PLACEHOLDER, (p) => {
    const v = p === '%u' || p === '${username}' ? c.username : c.clientId;
    if (v === undefined || v.includes('+') || v.includes('#')) ok = false;
    return v ?? '';
  });
  return ok ? out : undefined;
}

/** Whether every topic `sub` matches is matched by `rule` (a subscription inside the rule's filter). */
export function filterCovers(rule: string, sub: string): boolean {
  if (sub.charCodeAt(0) === 36 && (rule.charCodeAt(0) === 43 || rule.charCodeAt(0) === 35)) return false;
  const r = rule.split('/');
  const s = sub.split('/');
  for (let i = 0; i < r.length; i++) {
    if (r[i] === '#') return true;
    if (i >= s.length || s[i] === '#') return false;
    if (r[i] !== '+' && r[i] !== s[i]) return false;
  }
  return r.length === s.length;
}

/** Whether some topic matches both filters. */
export function filtersOverlap(a: string, b: string): boolean {
  // a topic starting with $ is matched by no filter that starts with a wildcard
  const dollarA = a.charCodeAt(0) === 36;
  const dollarB = b.charCodeAt(0) === 36;
  if ((dollarA && isWild(b.charCodeAt(0))) || (dollarB && isWild(a.charCodeAt(0)))) return false;
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; ; i++) {
    if (x[i] === '#' || y[i] === '#') return true;
    if (i >= x.length || i >= y.length) return x.length === y.length || x[i] === '#' || y[i] === '#';
    if (x[i] !== '+' && y[i] !== '+' && x[i] !== y[i]) return false;
  }
}

/**
 * `topicMatches` for a filter split once (`levels`), without splitting the topic: the
 * per-message form (a PUBLISH, a delivery), where a rule's filter is matched many times.
 */
export function matchName(levels: readonly string[], topic: string): boolean {
  const first = levels[0];
  if (topic.charCodeAt(0) === 36 && (first === '+' || first === '#')) return false;
  let start = 0;
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l === '#') return true;
    if (start > topic.length) return false;
    let end = topic.indexOf('/', start);
    if (end < 0) end = topic.length;
    if (l !== '+' && (end - start !== l.length || !topic.startsWith(l, start))) return false;
    start = end + 1;
  }
  return start > topic.length;
}

export function isWildcardFilter(f: string): boolean {
  return f.includes('+') || f.includes('#');
}

function isWild(code: number): boolean {
  return code === 43 || code === 35;
}

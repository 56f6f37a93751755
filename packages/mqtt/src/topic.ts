/** Topic name and filter rules of MQTT 3.1.1 §4.7 and 5.0 §4.7. Pure functions, no I/O. */

export interface TopicLimits {
  maxLevels: number;
  maxLength: number;
}

const DEFAULT_LIMITS: TopicLimits = { maxLevels: 128, maxLength: 65535 };

/** Returns why `name` is not a valid topic name for PUBLISH, or null when it is valid. */
export function topicNameError(name: string, limits: TopicLimits = DEFAULT_LIMITS): string | null {
  if (name.length === 0) return 'empty topic';
  if (name.length > limits.maxLength) return 'topic too long';
  let levels = 1;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // '#' 35, '+' 43, NUL 0, '/' 47, U+FFFD marks bytes that were not valid UTF-8 when decoded
    if (c === 35 || c === 43) return 'wildcard in topic name';
    if (c === 0) return 'NUL character in topic';
    if (c === 0xfffd) return 'invalid UTF-8 in topic';
    if (c === 47 && ++levels > limits.maxLevels) return 'too many topic levels';
  }
  return null;
}

/** Returns why `filter` is not a valid topic filter for SUBSCRIBE/UNSUBSCRIBE, or null. Shared prefixes must be stripped first. */
export function topicFilterError(filter: string, limits: TopicLimits = DEFAULT_LIMITS): string | null {
  if (filter.length === 0) return 'empty topic filter';
  if (filter.length > limits.maxLength) return 'topic filter too long';
  let levels = 1;
  let levelStart = 0;
  for (let i = 0; i <= filter.length; i++) {
    const c = i < filter.length ? filter.charCodeAt(i) : 47;
    if (c === 0) return 'NUL character in topic filter';
    if (c === 0xfffd) return 'invalid UTF-8 in topic filter';
    if (c === 47) {
      if (i < filter.length && ++levels > limits.maxLevels) return 'too many topic levels';
      levelStart = i + 1;
      continue;
    }
    if (c === 43 || c === 35) {
      const levelEnd = filter.indexOf('/', i);
      const levelLen = (levelEnd === -1 ? filter.length : levelEnd) - levelStart;
      if (levelLen !== 1) return `'${String.fromCharCode(c)}' must occupy a whole level`;
      if (c === 35 && i !== filter.length - 1) return "'#' must be the last level";
    }
  }
  return null;
}

export function isWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

export interface SharedFilter {
  group: string;
  filter: string;
}

/**
 * Splits `$share/{group}/{filter}` and `$queue/{filter}` (group `$queue`, as EMQX).
 * Returns null for a plain filter, or a string explaining why a shared filter is malformed.
 */
export function parseSharedFilter(filter: string): SharedFilter | null | string {
  if (filter.startsWith('$queue/')) {
    const rest = filter.slice(7);
    return rest.length === 0 ? 'empty filter in $queue subscription' : { group: '$queue', filter: rest };
  }
  if (!filter.startsWith('$share/')) return null;
  const slash = filter.indexOf('/', 7);
  if (slash === -1) return 'shared subscription needs $share/{group}/{filter}';
  const group = filter.slice(7, slash);
  const rest = filter.slice(slash + 1);
  if (group.length === 0) return 'empty share group';
  if (group.includes('+') || group.includes('#')) return 'wildcard in share group';
  if (rest.length === 0) return 'empty filter in shared subscription';
  return { group, filter: rest };
}

/** Whether `topic` matches `filter` (both already valid). `$`-topics are not matched by a leading wildcard. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 36 && (filter.charCodeAt(0) === 43 || filter.charCodeAt(0) === 35)) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * The two waits of a rebalance or an evacuation (`wait_health_check`, `wait_takeover`) as
 * the HTTP API takes them: seconds, or a duration string as EMQX also accepts (`"10s"`,
 * `"1m"`, `"1m30s"`, `"500ms"`). The API turns strings into seconds before anything else
 * sees them, so the admin operations between nodes (and peers of the release before) only
 * ever carry numbers.
 */
import { parseDuration } from '@vireo/broker';

/** The longest wait (one day), in seconds. */
export const MAX_WAIT_S = 86_400;

/** JSON schema of one wait: seconds, or a duration string. */
export const WAIT_SCHEMA = {
  anyOf: [
    { type: 'number', minimum: 0, maximum: MAX_WAIT_S },
    { type: 'string', minLength: 2, maxLength: 32, pattern: '^\\s*(\\d+(\\.\\d+)?(ms|s|m|h|d|MS|S|M|H|D))+\\s*$' },
  ],
} as const;

/** Seconds from a number of seconds or a duration string; undefined when it is neither. */
export function waitSeconds(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  // a string needs its unit: a bare "10" would be milliseconds to the parser, seconds to a reader
  if (typeof v !== 'string' || /^\s*\d+(\.\d+)?\s*$/.test(v)) return undefined;
  const ms = parseDuration(v);
  return ms === undefined ? undefined : ms / 1000;
}

export const WAIT_FIELDS = ['wait_health_check', 'wait_takeover'] as const;

/**
 * `body` with its waits in seconds. Throws a RangeError naming the field for a string that
 * is no duration or a wait longer than a day (the schema lets only well-formed ones through).
 */
export function waitsInSeconds<T extends Record<string, unknown>>(body: T): T {
  let out = body;
  for (const field of WAIT_FIELDS) {
    const v = body[field];
    if (v === undefined || typeof v === 'number') continue;
    const s = waitSeconds(v);
    if (s === undefined) throw new RangeError(`${field}: ${JSON.stringify(v)} is neither seconds nor a duration such as "10s" or "1m"`);
    if (s > MAX_WAIT_S) throw new RangeError(`${field}: ${JSON.stringify(v)} is longer than a day`);
    out = { ...out, [field]: s };
  }
  return out;
}

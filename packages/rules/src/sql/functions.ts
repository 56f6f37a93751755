/**
 * The built-in functions of rule SQL, with EMQX's names and argument orders (`nth(n, list)`
 * is 1-based, `substr(s, start[, len])` 0-based, `split` drops empty parts). A wrong
 * number of arguments is refused when the rule is compiled; a wrong kind of value fails
 * that one evaluation (counted as the rule's `failed`).
 */
import { createHash } from 'node:crypto';

export class RuleEvalError extends Error {}

export type Value = unknown;

export interface FunctionSpec {
  min: number;
  max: number;
  call: (args: Value[]) => Value;
}

const fail = (msg: string): never => {
  throw new RuleEvalError(msg);
};

export function toNumber(v: Value, fn: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    if (!Number.isNaN(n)) return n;
  }
  return fail(`${fn}: not a number: ${JSON.stringify(v) ?? String(v)}`);
}

/** EMQX's `str`: strings as they are, numbers and booleans printed, maps and lists as JSON. */
export function toStr(v: Value): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function toText(v: Value, fn: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return fail(`${fn}: not a string: ${JSON.stringify(v) ?? String(v)}`);
}

function toList(v: Value, fn: string): Value[] {
  return Array.isArray(v) ? v : fail(`${fn}: not an array: ${JSON.stringify(v) ?? String(v)}`);
}

function toInt(v: Value): number {
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  const n = toNumber(v, 'int');
  return Math.trunc(n);
}

function toBool(v: Value): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 1) return true;
  if (v === 'false' || v === 0) return false;
  return fail(`bool: not a boolean: ${JSON.stringify(v) ?? String(v)}`);
}

const isObject = (v: Value): v is Record<string, Value> => typeof v === 'object' && v !== null && !Array.isArray(v);

const math1 = (f: (x: number) => number, name: string): FunctionSpec => ({ min: 1, max: 1, call: ([x]) => f(toNumber(x, name)) });

const UNITS: Record<string, number> = { second: 1000, millisecond: 1, microsecond: 0.001, nanosecond: 0.000001 };

function unitOf(v: Value, fn: string): number {
  const u = v === undefined ? 'second' : toText(v, fn);
  return UNITS[u] ?? fail(`${fn}: unknown unit ${u} (second, millisecond, microsecond, nanosecond)`);
}

function hash(algorithm: string): FunctionSpec {
  return { min: 1, max: 1, call: ([s]) => createHash(algorithm).update(toStr(s)).digest('hex') };
}

function regex(v: Value, fn: string): RegExp {
  const src = toText(v, fn);
  try {
    return new RegExp(src);
  } catch {
    return fail(`${fn}: not a valid regular expression: ${src}`);
  }
}

export const FUNCTIONS: Readonly<Record<string, FunctionSpec>> = {
  // math
  abs: math1(Math.abs, 'abs'),
  ceil: math1(Math.ceil, 'ceil'),
  floor: math1(Math.floor, 'floor'),
  round: math1(Math.round, 'round'),
  sqrt: math1(Math.sqrt, 'sqrt'),
  exp: math1(Math.exp, 'exp'),
  log: math1(Math.log, 'log'),
  log10: math1(Math.log10, 'log10'),
  log2: math1(Math.log2, 'log2'),
  sin: math1(Math.sin, 'sin'),
  cos: math1(Math.cos, 'cos'),
  tan: math1(Math.tan, 'tan'),
  asin: math1(Math.asin, 'asin'),
  acos: math1(Math.acos, 'acos'),
  atan: math1(Math.atan, 'atan'),
  sinh: math1(Math.sinh, 'sinh'),
  cosh: math1(Math.cosh, 'cosh'),
  tanh: math1(Math.tanh, 'tanh'),
  power: { min: 2, max: 2, call: ([x, y]) => Math.pow(toNumber(x, 'power'), toNumber(y, 'power')) },
  fmod: { min: 2, max: 2, call: ([x, y]) => toNumber(x, 'fmod') % toNumber(y, 'fmod') },
  random: { min: 0, max: 0, call: () => Math.random() },
  // conversions and type checks
  str: { min: 1, max: 1, call: ([v]) => toStr(v) },
  str_utf8: { min: 1, max: 1, call: ([v]) => toStr(v) },
  int: { min: 1, max: 1, call: ([v]) => toInt(v) },
  float: { min: 1, max: 1, call: ([v]) => toNumber(v, 'float') },
  bool: { min: 1, max: 1, call: ([v]) => toBool(v) },
  is_null: { min: 1, max: 1, call: ([v]) => v === undefined || v === null },
  is_not_null: { min: 1, max: 1, call: ([v]) => v !== undefined && v !== null },
  is_str: { min: 1, max: 1, call: ([v]) => typeof v === 'string' },
  is_num: { min: 1, max: 1, call: ([v]) => typeof v === 'number' },
  is_int: { min: 1, max: 1, call: ([v]) => Number.isInteger(v) },
  is_float: { min: 1, max: 1, call: ([v]) => typeof v === 'number' && !Number.isInteger(v) },
  is_bool: { min: 1, max: 1, call: ([v]) => typeof v === 'boolean' },
  is_map: { min: 1, max: 1, call: ([v]) => isObject(v) },
  is_array: { min: 1, max: 1, call: ([v]) => Array.isArray(v) },
  coalesce: { min: 1, max: 64, call: (args) => args.find((v) => v !== undefined && v !== null) ?? null },
  coalesce_ne: { min: 1, max: 64, call: (args) => args.find((v) => v !== undefined && v !== null && v !== '') ?? null },
  // strings
  lower: { min: 1, max: 1, call: ([s]) => toText(s, 'lower').toLowerCase() },
  upper: { min: 1, max: 1, call: ([s]) => toText(s, 'upper').toUpperCase() },
  trim: { min: 1, max: 1, call: ([s]) => toText(s, 'trim').trim() },
  ltrim: { min: 1, max: 1, call: ([s]) => toText(s, 'ltrim').trimStart() },
  rtrim: { min: 1, max: 1, call: ([s]) => toText(s, 'rtrim').trimEnd() },
  reverse: { min: 1, max: 1, call: ([s]) => [...toText(s, 'reverse')].reverse().join('') },
  strlen: { min: 1, max: 1, call: ([s]) => [...toText(s, 'strlen')].length },
  concat: { min: 1, max: 64, call: (args) => args.map(toStr).join('') },
  substr: {
    min: 2,
    max: 3,
    call: ([s, start, len]) => {
      const text = toText(s, 'substr');
      const from = toInt(start);
      return len === undefined ? text.slice(from) : text.slice(from, from + toInt(len));
    },
  },
  split: {
    min: 2,
    max: 3,
    call: ([s, sep, mode]) => {
      const text = toText(s, 'split');
      const by = toText(sep, 'split');
      if (mode === 'leading' || mode === 'trailing') {
        const at = mode === 'leading' ? text.indexOf(by) : text.lastIndexOf(by);
        return at < 0 ? [text] : [text.slice(0, at), text.slice(at + by.length)].filter((p) => p !== '');
      }
      const parts = by === '' ? [...text] : text.split(by);
      return mode === 'notrim' ? parts : parts.filter((p) => p !== '');
    },
  },
  replace: { min: 3, max: 3, call: ([s, a, b]) => toText(s, 'replace').replaceAll(toText(a, 'replace'), toText(b, 'replace')) },
  regex_match: { min: 2, max: 2, call: ([s, re]) => regex(re, 'regex_match').test(toText(s, 'regex_match')) },
  regex_replace: { min: 3, max: 3, call: ([s, re, to]) => toText(s, 'regex_replace').replace(new RegExp(regex(re, 'regex_replace').source, 'g'), toText(to, 'regex_replace')) },
  starts_with: { min: 2, max: 2, call: ([s, p]) => toText(s, 'starts_with').startsWith(toText(p, 'starts_with')) },
  ends_with: { min: 2, max: 2, call: ([s, p]) => toText(s, 'ends_with').endsWith(toText(p, 'ends_with')) },
  // arrays
  nth: {
    min: 2,
    max: 2,
    call: ([n, list]) => {
      const l = toList(list, 'nth');
      const i = toInt(n);
      if (i < 1 || i > l.length) return fail(`nth: ${i} is out of 1..${l.length}`);
      return l[i - 1];
    },
  },
  length: { min: 1, max: 1, call: ([v]) => (Array.isArray(v) ? v.length : isObject(v) ? Object.keys(v).length : [...toText(v, 'length')].length) },
  first: { min: 1, max: 1, call: ([l]) => toList(l, 'first')[0] ?? null },
  last: { min: 1, max: 1, call: ([l]) => toList(l, 'last').at(-1) ?? null },
  contains: { min: 2, max: 2, call: ([item, l]) => toList(l, 'contains').some((x) => x === item || JSON.stringify(x) === JSON.stringify(item)) },
  sublist: {
    min: 2,
    max: 3,
    call: (args) => {
      // EMQX: sublist(len, list) or sublist(start, len, list), start 1-based
      if (args.length === 2) return toList(args[1], 'sublist').slice(0, toInt(args[0]));
      const start = toInt(args[0]) - 1;
      return toList(args[2], 'sublist').slice(start, start + toInt(args[1]));
    },
  },
  // maps
  map_get: { min: 2, max: 3, call: ([k, m, d]) => (isObject(m) && Object.hasOwn(m, toStr(k)) ? m[toStr(k)] : (d ?? null)) },
  map_put: { min: 3, max: 3, call: ([k, v, m]) => ({ ...(isObject(m) ? m : {}), [toStr(k)]: v }) },
  map_keys: { min: 1, max: 1, call: ([m]) => (isObject(m) ? Object.keys(m) : fail('map_keys: not a map')) },
  map_values: { min: 1, max: 1, call: ([m]) => (isObject(m) ? Object.values(m) : fail('map_values: not a map')) },
  // JSON
  json_decode: {
    min: 1,
    max: 1,
    call: ([s]) => {
      try {
        return JSON.parse(toText(s, 'json_decode')) as Value;
      } catch {
        return fail('json_decode: not valid JSON');
      }
    },
  },
  json_encode: { min: 1, max: 1, call: ([v]) => JSON.stringify(v ?? null) },
  // time
  now_timestamp: { min: 0, max: 1, call: ([u]) => Math.floor(Date.now() / unitOf(u, 'now_timestamp')) },
  now_rfc3339: { min: 0, max: 1, call: () => new Date().toISOString() },
  unix_ts_to_rfc3339: { min: 1, max: 2, call: ([ts, u]) => new Date(toNumber(ts, 'unix_ts_to_rfc3339') * unitOf(u, 'unix_ts_to_rfc3339')).toISOString() },
  rfc3339_to_unix_ts: {
    min: 1,
    max: 2,
    call: ([s, u]) => {
      const ms = Date.parse(toText(s, 'rfc3339_to_unix_ts'));
      return Number.isNaN(ms) ? fail('rfc3339_to_unix_ts: not an RFC 3339 date') : Math.floor(ms / unitOf(u, 'rfc3339_to_unix_ts'));
    },
  },
  // hashes and encodings
  md5: hash('md5'),
  sha: hash('sha1'),
  sha256: hash('sha256'),
  base64_encode: { min: 1, max: 1, call: ([s]) => Buffer.from(toStr(s)).toString('base64') },
  base64_decode: { min: 1, max: 1, call: ([s]) => Buffer.from(toText(s, 'base64_decode'), 'base64').toString('utf8') },
};

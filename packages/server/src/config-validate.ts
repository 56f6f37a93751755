/**
 * Checks a raw configuration tree (YAML file merged with environment overrides)
 * against the schema and turns it into typed values: durations to ms, sizes to bytes,
 * binds to host and port. It reports every problem at once, each naming the full
 * key path and where the value came from, because fixing one error per restart is
 * a miserable way to configure a broker.
 */
import { formatByteSize, formatDuration, isAddress, isHttpUrl, parseBind, parseByteSize, parseDuration } from './config-values.js';
import { flattenSchema, isKeySpec, resolveDefault, type KeySpec, type SchemaNode, type VariantsSpec } from './schema-dsl.js';
import { nearest } from './suggest.js';

/** One problem with the configuration. */
export interface ConfigIssue {
  /** Full dotted key path, e.g. `mqtt.max_inflight` (or `cluster.static.seeds[1]`). */
  path: string;
  /** What is wrong, e.g. `expected an integer 1..65535, got "abc"`. */
  message: string;
  /** Where the value came from: `vireo.yaml:12` or an environment variable name. */
  source?: string;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.path}: ${issue.message}${issue.source ? ` (${issue.source})` : ''}`;
}

export interface ValidateOptions {
  /** Where each value came from, by path; a path inherits its nearest ancestor's source. */
  sources?: ReadonlyMap<string, string>;
  /** `warn` reports unknown keys as warnings instead of errors (`vireo start --force`). */
  unknownKeys?: 'error' | 'warn';
  /** Turns a path into the name a user typed, for suggestions (e.g. the env var name). */
  spellingOf?: (path: string, source: string | undefined) => string;
}

export interface ValidateResult<T> {
  /** Present only when there are no errors. */
  config: T | undefined;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** Value printed after "got": strings quoted so that `""` and `"1 "` are visible. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function range(min: number, max: number, fmt: (n: number) => string): string {
  if (max >= Number.MAX_SAFE_INTEGER || max >= 2 ** 31 - 1) return `≥ ${fmt(min)}`;
  return `${fmt(min)}..${fmt(max)}`;
}

function keywordsText(keywords: Readonly<Record<string, number>> | undefined): string {
  const words = Object.keys(keywords ?? {});
  return words.length ? ` or ${words.join(' or ')}` : '';
}

/** The "expected …" phrase of a key, also used by the docs generator. */
export function expectation(spec: KeySpec): string {
  switch (spec.kind) {
    case 'string':
      return 'a string';
    case 'optional_string':
      return 'a string';
    case 'int':
      return `an integer ${range(spec.min, spec.max, String)}${keywordsText(spec.keywords)}`;
    case 'number':
      return `a number ${range(spec.min, spec.max, String)}`;
    case 'bool':
      return 'true or false';
    case 'duration':
      return `a duration ${range(spec.min, spec.max, formatDuration)} (e.g. 500ms, 15s, 2h)${keywordsText(spec.keywords)}`;
    case 'bytesize':
      return `a size ${range(spec.min, spec.max, formatByteSize)} (e.g. 64KB, 1MB)`;
    case 'bind':
      return 'host:port, [ipv6]:port or a port';
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'list':
      return `a list of ${spec.item === 'address' ? 'host:port addresses' : spec.item === 'url' ? 'http(s) URLs' : 'strings'}`;
    case 'named':
      return 'a mapping of names to sections';
    case 'value':
      return spec.expected;
    case 'string_map':
      return 'a mapping of names to strings';
    case 'variants':
      return `a list of ${spec.itemName}s, each one of ${Object.keys(spec.variants).join(', ')}`;
  }
}

/** Names of named sections, as EMQX allows for bridges and listeners. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** Parses one leaf value; returns the typed value or the error message. */
function parseLeaf(spec: KeySpec, raw: unknown): { value: unknown } | { error: string } {
  const fail = (expected = expectation(spec)) => ({ error: `expected ${expected}, got ${describeValue(raw)}` });
  // YAML reads `cookie: 1234` as a number; a string key takes the scalar's text.
  const asText = typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : raw;
  switch (spec.kind) {
    case 'string': {
      if (typeof asText !== 'string') return fail();
      const problem = spec.check?.(asText);
      return problem ? fail(problem) : { value: asText };
    }
    case 'optional_string':
      if (raw === null) return { value: undefined };
      return typeof asText === 'string' ? { value: asText } : fail();
    case 'int': {
      if (typeof raw === 'string' && spec.keywords && Object.hasOwn(spec.keywords, raw)) return { value: spec.keywords[raw] };
      const n = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < spec.min || n > spec.max) return fail();
      return { value: n };
    }
    case 'number': {
      const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < spec.min || n > spec.max) return fail();
      return { value: n };
    }
    case 'bool': {
      if (typeof raw === 'boolean') return { value: raw };
      if (typeof raw === 'string' && /^(true|false)$/i.test(raw.trim())) return { value: raw.trim().toLowerCase() === 'true' };
      return fail();
    }
    case 'duration': {
      if (typeof raw === 'string' && spec.keywords && Object.hasOwn(spec.keywords, raw)) return { value: spec.keywords[raw] };
      const ms = parseDuration(raw);
      return ms === undefined || ms < spec.min || ms > spec.max ? fail() : { value: ms };
    }
    case 'bytesize': {
      const bytes = parseByteSize(raw);
      return bytes === undefined || bytes < spec.min || bytes > spec.max ? fail() : { value: bytes };
    }
    case 'bind': {
      const b = parseBind(raw);
      return b ? { value: b } : fail();
    }
    case 'enum': {
      if (typeof asText === 'string' && spec.values.includes(asText)) return { value: asText };
      const guess = typeof asText === 'string' ? nearest(asText, spec.values) : undefined;
      const f = fail();
      return guess ? { error: `${f.error} (did you mean ${guess}?)` } : f;
    }
    case 'string_map': {
      if (!isMapping(raw)) return fail();
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return { error: `expected a string for ${k}, got ${describeValue(v)}` };
        out[k] = String(v);
      }
      return { value: out };
    }
    case 'list':
    case 'named':
    case 'value':
    case 'variants':
      return { error: 'parsed by the caller' }; // unreachable: validateConfig handles these kinds
  }
}

/** Lists accept a YAML sequence, or one comma-separated string (handy in env vars). */
function parseList(spec: KeySpec & { kind: 'list' }, raw: unknown, path: string): { value: string[]; errors: ConfigIssue[] } {
  const errors: ConfigIssue[] = [];
  let items: unknown[];
  if (Array.isArray(raw)) items = raw;
  else if (typeof raw === 'string') items = raw.trim() === '' ? [] : raw.split(',').map((s) => s.trim());
  else return { value: [], errors: [{ path, message: `expected ${expectation(spec)}, got ${describeValue(raw)}` }] };
  const value: string[] = [];
  items.forEach((item, i) => {
    const text = typeof item === 'number' ? String(item) : item;
    const ok = typeof text === 'string' && (spec.item === 'address' ? isAddress(text) : spec.item === 'url' ? isHttpUrl(text) : true);
    if (ok) value.push(text);
    else {
      const what = spec.item === 'address' ? 'host:port' : spec.item === 'url' ? 'an http(s) URL' : 'a string';
      errors.push({ path: `${path}[${i}]`, message: `expected ${what}, got ${describeValue(item)}` });
    }
  });
  return { value, errors };
}

/** Validates `raw` against `schema`; see the module comment. */
export function validateConfig<T>(schema: SchemaNode, raw: unknown, options: ValidateOptions = {}): ValidateResult<T> {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const sources = options.sources ?? new Map<string, string>();
  const knownPaths = [...new Set(flattenSchema(schema).flatMap(({ path }) => path.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'))))];

  const sourceOf = (path: string): string | undefined => {
    for (let p = path; p; p = p.slice(0, Math.max(0, p.lastIndexOf('.'), p.lastIndexOf('[')))) {
      const s = sources.get(p);
      if (s) return s;
    }
    // An unknown section set through its children (VIREO_BOGUS__THING) is blamed on them.
    for (const [p, s] of sources) if (p.startsWith(`${path}.`)) return s;
    return undefined;
  };
  const spell = (path: string, source: string | undefined) => options.spellingOf?.(path, source) ?? path;

  function walk(node: SchemaNode, value: unknown, prefix: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let rawMap: Record<string, unknown> = {};
    if (isMapping(value)) rawMap = value;
    else if (value !== undefined && value !== null) {
      errors.push({
        path: prefix || '(top level)',
        message: `expected a mapping with keys ${Object.keys(node).join(', ')}, got ${describeValue(value)}`,
        source: sourceOf(prefix),
      });
    }

    for (const key of Object.keys(rawMap)) {
      if (Object.hasOwn(node, key)) continue;
      const path = prefix ? `${prefix}.${key}` : key;
      const source = sourceOf(path);
      const guess = nearest(path, knownPaths);
      const hint = guess ? ` (did you mean ${spell(guess, source)}?)` : '';
      const issue = { path, message: `unknown key${hint}`, source };
      (options.unknownKeys === 'warn' ? warnings : errors).push(issue);
    }

    for (const [key, child] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const rawChild = rawMap[key];
      if (!isKeySpec(child)) {
        out[key] = walk(child, rawChild, path);
        continue;
      }
      if (child.kind === 'named') {
        out[key] = walkNamed(child.item, rawChild, path);
        continue;
      }
      if (child.kind === 'variants') {
        out[key] = walkVariants(child, rawChild, path);
        continue;
      }
      if (rawChild === undefined) {
        out[key] = resolveDefault<unknown>(child);
        continue;
      }
      if (child.kind === 'list') {
        const r = parseList(child, rawChild, path);
        errors.push(...r.errors.map((e) => ({ ...e, source: sourceOf(path) })));
        out[key] = r.value;
        continue;
      }
      if (child.kind === 'value') {
        const r = child.parse(rawChild);
        if ('errors' in r) errors.push(...r.errors.map((e) => ({ path: `${path}${e.at}`, message: e.message, source: sourceOf(path) })));
        else out[key] = r.value;
        continue;
      }
      const r = parseLeaf(child, rawChild);
      if ('error' in r) errors.push({ path, message: r.error, source: sourceOf(path) });
      else out[key] = r.value;
    }
    return out;
  }

  function walkNamed(item: SchemaNode, value: unknown, path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (value === undefined || value === null) return out;
    if (!isMapping(value)) {
      errors.push({ path, message: `expected a mapping of names to sections, got ${describeValue(value)}`, source: sourceOf(path) });
      return out;
    }
    for (const [name, section] of Object.entries(value)) {
      const at = `${path}.${name}`;
      if (!NAME.test(name)) errors.push({ path: at, message: 'a name must be letters, digits, `_` and `-`, starting with a letter or digit', source: sourceOf(at) });
      else out[name] = walk(item, section, at);
    }
    return out;
  }

  function walkVariants(spec: VariantsSpec, value: unknown, path: string): Record<string, unknown>[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      errors.push({ path, message: `expected ${expectation(spec)} (EMQX 5's list form), got ${describeValue(value)}`, source: sourceOf(path) });
      return [];
    }
    const out: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    value.forEach((item, i) => {
      const at = `${path}[${i}]`;
      if (!isMapping(item)) {
        errors.push({ path: at, message: `expected a mapping (${spec.tagKeys.join(', ')}, …), got ${describeValue(item)}`, source: sourceOf(at) });
        return;
      }
      const id = spec.tagKeys
        .filter((k) => item[k] !== undefined && item[k] !== null)
        .map((k) => String(item[k]))
        .join(':');
      const schema = Object.hasOwn(spec.variants, id) ? spec.variants[id] : undefined;
      if (!schema) {
        const what = spec.tagKeys.map((k) => `${k}: ${describeValue(item[k])}`).join(', ');
        errors.push({ path: at, message: `unknown ${spec.itemName} (${what}): expected one of ${Object.keys(spec.variants).join(', ')}`, source: sourceOf(at) });
        return;
      }
      if (seen.has(id)) errors.push({ path: at, message: `a second ${spec.itemName} ${id}: each may appear once`, source: sourceOf(at) });
      seen.add(id);
      const rest = Object.fromEntries(Object.entries(item).filter(([k]) => !spec.tagKeys.includes(k)));
      out.push({ id, ...walk(schema, rest, at) });
    });
    return out;
  }

  const config = walk(schema, raw, '');
  return { config: errors.length ? undefined : (config as T), errors, warnings };
}

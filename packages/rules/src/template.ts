/**
 * `${field}` templates over a rule's output, as EMQX's actions take them: `${clientid}`,
 * nested `${payload.sensor.temp}`, `${.}` for the whole output as JSON. Compiled once per
 * action; a missing field renders as the empty string in text, and as NULL in a SQL
 * parameter (actions/pgsql.ts).
 */
import type { Output } from './sql/compile.js';

const PLACEHOLDER = /\$\{([^}]*)\}/g;

export interface Template {
  readonly source: string;
  /** Literal text around the placeholders (one more than `paths`). */
  readonly parts: readonly string[];
  /** Key paths of the placeholders; an empty path is `${.}`. */
  readonly paths: readonly (readonly string[])[];
}

export function compileTemplate(source: string): Template {
  const parts: string[] = [];
  const paths: string[][] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const name = m[1]!.trim();
    if (name === '') throw new Error(`empty placeholder \${} in "${source}"`);
    parts.push(source.slice(last, m.index));
    paths.push(name === '.' ? [] : name.replace(/^\./, '').split('.'));
    last = m.index! + m[0].length;
  }
  parts.push(source.slice(last));
  return { source, parts, paths };
}

/** The value a path names in the output (the whole output for `${.}`). */
export function lookup(out: Output, path: readonly string[]): unknown {
  let v: unknown = out;
  for (const key of path) {
    if (typeof v === 'string' && (v.startsWith('{') || v.startsWith('['))) {
      try {
        v = JSON.parse(v) as unknown;
      } catch {
        return undefined;
      }
    }
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** Text of one value: strings as they are, maps and lists as JSON, missing as ''. */
export function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return Buffer.isBuffer(v) ? v.toString('utf8') : JSON.stringify(v);
  return String(v);
}

export function renderText(t: Template, out: Output): string {
  if (t.paths.length === 0) return t.source;
  let s = t.parts[0]!;
  for (let i = 0; i < t.paths.length; i++) s += textOf(lookup(out, t.paths[i]!)) + t.parts[i + 1]!;
  return s;
}

/** True when the template is exactly one placeholder: its value can be kept as is (a number stays a number). */
export function isWhole(t: Template): boolean {
  return t.paths.length === 1 && t.parts[0] === '' && t.parts[1] === '';
}

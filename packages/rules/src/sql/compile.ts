/**
 * Turns a parsed statement into closures, once per rule: evaluating a message is calling
 * them, never walking the syntax tree. Names are resolved here too: a name an earlier
 * field defined with AS reads the output so far, any other reads the event, and
 * `payload.x` reads the payload decoded as JSON (once per event, whichever rule asks
 * first). When WHERE uses no alias it runs before the SELECT fields, so a message the
 * rule filters out costs only its condition.
 */
import { topicMatches } from '@vireo/mqtt';
import type { BinaryOp, Expr, Field, Pos, Segment, Statement } from './ast.js';
import { FUNCTIONS, RuleEvalError, toNumber, toStr, type Value } from './functions.js';
import { RuleSqlError } from './lexer.js';

/** One event as rules see it: its fields by EMQX's names, and the payload decoded lazily. */
export class EventContext {
  private decoded: Value;
  private decodedDone = false;

  constructor(readonly fields: Readonly<Record<string, Value>>) {}

  /** The payload as JSON (undefined when it is not JSON), parsed on first use only. */
  payloadJson(): Value {
    if (!this.decodedDone) {
      this.decodedDone = true;
      this.decoded = decodeJson(this.fields.payload);
    }
    return this.decoded;
  }
}

export type Output = Record<string, Value>;

interface Env {
  ctx: EventContext;
  out: Output;
}

type Fn = (env: Env) => Value;

export interface CompiledSelect {
  /** Runs the rule on one event: its output, or undefined when WHERE is not true. Throws RuleEvalError. */
  run(ctx: EventContext): Output | undefined;
}

const isObject = (v: Value): v is Record<string, Value> => typeof v === 'object' && v !== null && !Array.isArray(v);

function decodeJson(v: Value): Value {
  if (typeof v !== 'string' && !Buffer.isBuffer(v)) return isObject(v) || Array.isArray(v) ? v : undefined;
  const text = typeof v === 'string' ? v : v.toString('utf8');
  const c = text.trimStart()[0];
  // only objects and arrays: `payload.x` of a plain number or word is undefined, not an error
  if (c !== '{' && c !== '[') return undefined;
  try {
    return JSON.parse(text) as Value;
  } catch {
    return undefined;
  }
}

export function compileSelect(stmt: Statement): CompiledSelect {
  const aliases = new Set<string>();
  const steps: ((env: Env) => void)[] = [];
  for (const field of stmt.fields) steps.push(compileField(field, aliases));
  const whereUsesAlias = stmt.where !== undefined && usesNames(stmt.where, aliases);
  const where = stmt.where && compileExpr(stmt.where, whereUsesAlias ? aliases : new Set());
  const select = (env: Env) => {
    for (const step of steps) step(env);
  };
  if (!where) {
    return {
      run(ctx) {
        const env = { ctx, out: {} };
        select(env);
        return env.out;
      },
    };
  }
  return {
    run(ctx) {
      const env = { ctx, out: {} };
      if (whereUsesAlias) {
        select(env);
        return where(env) === true ? env.out : undefined;
      }
      if (where(env) !== true) return undefined;
      select(env);
      return env.out;
    },
  };
}

function compileField(field: Field, aliases: Set<string>): (env: Env) => void {
  if (field.kind === 'star') {
    return (env) => {
      for (const k in env.ctx.fields) env.out[k] = env.ctx.fields[k];
    };
  }
  const fn = compileExpr(field.expr, aliases);
  let key: string[];
  if (field.alias) key = field.alias;
  else if (field.expr.kind === 'path' && field.expr.segments.every((s) => 'key' in s)) {
    // EMQX nests `SELECT payload.a.b` as {"payload": {"a": {"b": …}}}
    key = [field.expr.root, ...field.expr.segments.map((s) => (s as { key: string }).key)];
  } else key = [field.text];
  // defined after its own expression: `x + 1 AS x` reads the event's x
  if (field.alias) aliases.add(field.alias[0]!);
  if (key.length === 1) {
    const k = key[0]!;
    return (env) => {
      env.out[k] = fn(env);
    };
  }
  return (env) => setPath(env.out, key, fn(env));
}

function setPath(out: Output, path: string[], value: Value): void {
  let o = out;
  for (let i = 0; i < path.length - 1; i++) {
    const next = o[path[i]!];
    // a copy: the map may be the event's own (`SELECT *`), which other rules read too
    o = o[path[i]!] = isObject(next) ? { ...next } : {};
  }
  o[path.at(-1)!] = value;
}

/** Does `e` read a name of `names` (an alias)? */
function usesNames(e: Expr, names: Set<string>): boolean {
  switch (e.kind) {
    case 'literal':
      return false;
    case 'path':
      return names.has(e.root) || e.segments.some((s) => 'index' in s && usesNames(s.index, names));
    case 'get':
      return usesNames(e.target, names) || e.segments.some((s) => 'index' in s && usesNames(s.index, names));
    case 'call':
      return e.args.some((a) => usesNames(a, names));
    case 'binary':
      return usesNames(e.left, names) || usesNames(e.right, names);
    case 'not':
    case 'negate':
      return usesNames(e.operand, names);
    case 'in':
      return usesNames(e.operand, names) || e.list.some((a) => usesNames(a, names));
    case 'array':
      return e.items.some((a) => usesNames(a, names));
    case 'case':
      return (
        (e.subject !== undefined && usesNames(e.subject, names)) ||
        e.whens.some((w) => usesNames(w.when, names) || usesNames(w.then, names)) ||
        (e.otherwise !== undefined && usesNames(e.otherwise, names))
      );
  }
}

function refuse(pos: Pos, reason: string): never {
  throw new RuleSqlError(reason, pos.line, pos.column);
}

export function compileExpr(e: Expr, aliases: ReadonlySet<string>): Fn {
  switch (e.kind) {
    case 'literal': {
      const v = e.value;
      return () => v;
    }
    case 'path': {
      const root = e.root;
      let base: Fn;
      if (aliases.has(root)) base = (env) => env.out[root];
      else if (root === 'payload' && e.segments.length > 0 && 'key' in e.segments[0]!) {
        base = (env) => env.ctx.payloadJson();
      } else base = (env) => env.ctx.fields[root];
      return withSegments(base, e.segments, aliases);
    }
    case 'get':
      return withSegments(compileExpr(e.target, aliases), e.segments, aliases);
    case 'call': {
      const spec = FUNCTIONS[e.name];
      if (!spec) refuse(e.pos, `unknown function ${e.name}()`);
      if (e.args.length < spec.min || e.args.length > spec.max) {
        const n = spec.min === spec.max ? `${spec.min}` : spec.max >= 64 ? `at least ${spec.min}` : `${spec.min} to ${spec.max}`;
        refuse(e.pos, `${e.name}() takes ${n} argument${spec.min === 1 && spec.max === 1 ? '' : 's'}, got ${e.args.length}`);
      }
      const args = e.args.map((a) => compileExpr(a, aliases));
      const call = spec.call;
      if (args.length === 0) return () => call([]);
      if (args.length === 1) {
        const a = args[0]!;
        return (env) => call([a(env)]);
      }
      return (env) => call(args.map((a) => a(env)));
    }
    case 'binary':
      return compileBinary(e.op, compileExpr(e.left, aliases), compileExpr(e.right, aliases));
    case 'not': {
      const a = compileExpr(e.operand, aliases);
      return (env) => a(env) !== true;
    }
    case 'negate': {
      const a = compileExpr(e.operand, aliases);
      return (env) => -toNumber(a(env), '-');
    }
    case 'in': {
      const a = compileExpr(e.operand, aliases);
      const list = e.list.map((x) => compileExpr(x, aliases));
      const negated = e.negated;
      return (env) => {
        const v = a(env);
        const found = list.some((x) => equal(v, x(env)));
        return negated ? !found : found;
      };
    }
    case 'array': {
      const items = e.items.map((x) => compileExpr(x, aliases));
      return (env) => items.map((x) => x(env));
    }
    case 'case': {
      const subject = e.subject && compileExpr(e.subject, aliases);
      const whens = e.whens.map((w) => ({ when: compileExpr(w.when, aliases), then: compileExpr(w.then, aliases) }));
      const otherwise = e.otherwise ? compileExpr(e.otherwise, aliases) : () => null;
      if (subject) {
        return (env) => {
          const s = subject(env);
          for (const w of whens) if (equal(s, w.when(env))) return w.then(env);
          return otherwise(env);
        };
      }
      return (env) => {
        for (const w of whens) if (w.when(env) === true) return w.then(env);
        return otherwise(env);
      };
    }
  }
}

function withSegments(base: Fn, segments: Segment[], aliases: ReadonlySet<string>): Fn {
  let fn = base;
  for (const seg of segments) {
    const prev = fn;
    if ('key' in seg) {
      const key = seg.key;
      fn = (env) => keyOf(prev(env), key);
    } else {
      const index = compileExpr(seg.index, aliases);
      fn = (env) => indexOf(prev(env), index(env));
    }
  }
  return fn;
}

/** A key of a map; a string holding JSON is decoded first, as EMQX does for nested JSON. */
function keyOf(v: Value, key: string): Value {
  if (isObject(v)) return v[key];
  if (typeof v === 'string') {
    const d = decodeJson(v);
    return isObject(d) ? d[key] : undefined;
  }
  return undefined;
}

/** `list[1]` is the first item (EMQX), `list[-1]` the last; a map takes the index as a key. */
function indexOf(v: Value, i: Value): Value {
  const target = typeof v === 'string' ? decodeJson(v) : v;
  if (Array.isArray(target) && typeof i === 'number') return i > 0 ? target[i - 1] : i < 0 ? target[target.length + i] : undefined;
  if (isObject(target)) return target[toStr(i)];
  return undefined;
}

const NUMERIC = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** Numbers compare as numbers (a numeric string counts), strings as strings; anything else is not ordered. */
function order(a: Value, b: Value): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'string' && NUMERIC.test(b)) return a - Number(b);
  if (typeof a === 'string' && typeof b === 'number' && NUMERIC.test(a)) return Number(a) - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return undefined;
}

function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? null) === (b ?? null);
  if (typeof a === 'object' && typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return order(a, b) === 0;
}

function arithmetic(op: string, a: Value, b: Value): number {
  const x = toNumber(a, op);
  const y = toNumber(b, op);
  switch (op) {
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      if (y === 0) throw new RuleEvalError('division by zero');
      return x / y;
    case 'div':
      if (y === 0) throw new RuleEvalError('division by zero');
      return Math.trunc(x / y);
    default:
      if (y === 0) throw new RuleEvalError('division by zero');
      return x % y;
  }
}

function compileBinary(op: BinaryOp, l: Fn, r: Fn): Fn {
  switch (op) {
    case 'and':
      return (env) => l(env) === true && r(env) === true;
    case 'or':
      return (env) => l(env) === true || r(env) === true;
    case '=':
      return (env) => equal(l(env), r(env));
    case '!=':
      return (env) => !equal(l(env), r(env));
    case '<':
      return (env) => (order(l(env), r(env)) ?? NaN) < 0;
    case '<=':
      return (env) => (order(l(env), r(env)) ?? NaN) <= 0;
    case '>':
      return (env) => (order(l(env), r(env)) ?? NaN) > 0;
    case '>=':
      return (env) => (order(l(env), r(env)) ?? NaN) >= 0;
    case '=~':
      return (env) => {
        const topic = l(env);
        const filter = r(env);
        return typeof topic === 'string' && typeof filter === 'string' && topicMatches(filter, topic);
      };
    case '+':
      // numbers add; a string on either side concatenates (EMQX)
      return (env) => {
        const a = l(env);
        const b = r(env);
        if (typeof a === 'number' && typeof b === 'number') return a + b;
        if (typeof a === 'string' || typeof b === 'string') return toStr(a) + toStr(b);
        return toNumber(a, '+') + toNumber(b, '+');
      };
    default:
      return (env) => arithmetic(op, l(env), r(env));
  }
}

/**
 * The layout docs/architecture.md describes, checked on the sources: no import circles
 * (type-only imports included) and no file over 500 lines, in this package and @vireo/mqtt.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url)); // packages/broker/dist
const roots = [path.resolve(here, '../src'), path.resolve(here, '../../mqtt/src')];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports of a file, as resolved .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gs)) out.push(path.resolve(path.dirname(file), m[1].replace(/\.js$/, '.ts')));
  return out;
}

/** Every cycle's files (strongly connected components with more than one file, or a self-import). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('no import circles in @vireo/broker and @vireo/mqtt', () => {
  for (const root of roots) {
    const graph = new Map(sources(root).map((f) => [f, importsOf(f)]));
    assert.ok(graph.size > 5, `sources found under ${root}`);
    const found = cycles(graph).map((c) => c.map((f) => path.relative(root, f)).sort());
    assert.deepEqual(found, [], `import circles under ${root}`);
  }
});

test('no source file over 500 lines', () => {
  for (const root of roots) {
    const long = sources(root)
      .map((f) => [path.relative(root, f), readFileSync(f, 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > 500);
    assert.deepEqual(long, [], `files over 500 lines under ${root}`);
  }
});

test('the cycle finder finds a circle', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  assert.deepEqual(
    cycles(g).map((c) => c.sort()),
    [['a', 'b', 'c']],
  );
});

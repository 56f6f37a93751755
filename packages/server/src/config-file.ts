/**
 * Reads the YAML config file into a plain tree, and remembers the line of every key
 * so that a validation error can say `vireo.yaml:12`.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import type { ConfigIssue } from './config-validate.js';

export interface ConfigFile {
  tree: unknown;
  /** `file:line` of each key path present in the file. */
  sources: Map<string, string>;
  errors: ConfigIssue[];
}

export function readConfigFile(file: string): ConfigFile {
  const sources = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { tree: undefined, sources, errors: [{ path: file, message: `cannot read the config file (${code})` }] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length) {
    const errors = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return { path: pos ? `${file}:${pos.line}:${pos.col}` : file, message: (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '') };
    });
    return { tree: undefined, sources, errors };
  }
  collectLines(doc.contents, '', (path, offset) => sources.set(path, `${file}:${lines.linePos(offset).line}`));
  // An empty file is an empty config, not an error.
  return { tree: doc.toJS() ?? {}, sources, errors: [] };
}

function collectLines(node: Node | null, prefix: string, record: (path: string, offset: number) => void): void {
  if (!isMap(node)) return;
  for (const pair of node.items) {
    const keyNode = pair.key as Node | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const path = prefix ? `${prefix}.${key}` : key;
    const offset = keyNode?.range?.[0];
    if (offset !== undefined) record(path, offset);
    collectLines(pair.value as Node | null, path, record);
  }
}

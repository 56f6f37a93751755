/**
 * Loads Vireo's configuration: defaults, then the YAML file (`--config` or
 * `VIREO_CONFIG`; no file is read implicitly, so what runs is what was asked for),
 * then `VIREO_*` environment overrides, validated together against the schema.
 */
import { configSchema, type VireoConfig } from './config-schema.js';
import { CONFIG_FILE_ENV, envNameOf, readEnvOverrides } from './config-env.js';
import { readConfigFile } from './config-file.js';
import { validateConfig, type ConfigIssue } from './config-validate.js';
import { ConfigError } from './config-error.js';

export type { VireoConfig } from './config-schema.js';
export type { ConfigIssue } from './config-validate.js';
export { toBrokerConfig } from './broker-config.js';

export { ConfigError } from './config-error.js';

export interface LoadOptions {
  /** YAML file; when absent, `env.VIREO_CONFIG`; when both are absent, defaults and env only. */
  file?: string;
  /** Defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Unknown keys become warnings instead of errors (`vireo start --force`). */
  force?: boolean;
}

export interface LoadedConfig {
  config: VireoConfig;
  /** The file read, if any. */
  file: string | undefined;
  /** Problems tolerated because of `force`, to be logged once a logger exists. */
  warnings: ConfigIssue[];
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets `value` at `path`, merging into mappings so `VIREO_MQTT='{max_inflight: 8}'` keeps sibling keys. */
function setAt(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  const last = parts.pop() ?? '';
  let node = tree;
  for (const part of parts) {
    const next = node[part];
    node = isTree(next) ? next : (node[part] = {});
  }
  const old = node[last];
  node[last] = isTree(old) && isTree(value) ? deepMerge(old, value) : value;
}

function deepMerge(a: Tree, b: Tree): Tree {
  const out: Tree = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const old = out[k];
    out[k] = isTree(old) && isTree(v) ? deepMerge(old, v) : v;
  }
  return out;
}

/** Loads and validates; throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? (env[CONFIG_FILE_ENV] || undefined);
  const errors: ConfigIssue[] = [];
  const sources = new Map<string, string>();
  let tree: Tree = {};

  if (file !== undefined) {
    const read = readConfigFile(file);
    errors.push(...read.errors);
    if (read.errors.length === 0) {
      if (isTree(read.tree)) tree = read.tree;
      else errors.push({ path: file, message: `expected a YAML mapping of keys, got ${typeof read.tree}` });
    }
    for (const [path, where] of read.sources) sources.set(path, where);
  }

  const fromEnv = readEnvOverrides(env, configSchema);
  errors.push(...fromEnv.errors);
  for (const o of fromEnv.overrides) {
    setAt(tree, o.path, o.value);
    sources.set(o.path, o.source);
  }

  const result = validateConfig<VireoConfig>(configSchema, tree, {
    sources,
    unknownKeys: options.force ? 'warn' : 'error',
    // Suggest in the spelling the user used: an env var name for an env var.
    spellingOf: (path, source) => (source?.startsWith('VIREO_') ? envNameOf(path) : path),
  });
  errors.push(...result.errors);
  if (errors.length || !result.config) throw new ConfigError(errors);
  return { config: result.config, file, warnings: result.warnings };
}

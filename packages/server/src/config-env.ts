/**
 * Environment overrides: `VIREO_` + the key path upper-cased with `__` for each dot,
 * e.g. `VIREO_LISTENERS__TCP__DEFAULT__BIND=127.0.0.1:1884` sets
 * `listeners.tcp.default.bind`. Only `__` separates levels, so a single `_` stays
 * part of a key (`VIREO_NODE__DATA_DIR` → `node.data_dir`).
 *
 * Decisions (documented in docs/configuration.md):
 * - Every `VIREO_*` variable is a config override except the few in NON_CONFIG_ENV
 *   (`VIREO_CONFIG`, the file path). A name that maps to no key fails like an unknown
 *   file key, so a typo such as `VIREO_MQTT_MAX_INFLIGHT` (one `_`) cannot be silently
 *   ignored.
 * - An empty value counts as unset, so `VIREO_NODE__COOKIE=${COOKIE}` with COOKIE
 *   unset keeps the default instead of failing.
 * - Values of lists and whole sections are parsed as YAML (`[a, b]`, `{k: v}`). Other
 *   keys take the text as written, unquoted if YAML-quoted: YAML would otherwise read
 *   `[::]:1883` as a list and `&secret` as an anchor. Every scalar parser accepts text,
 *   so `32`, `true` and `30s` mean what they would in the file.
 */
import { parse as parseYaml } from 'yaml';
import { flattenSchema, NAME_SLOT, type KeySpec, type SchemaNode } from './schema-dsl.js';
import type { ConfigIssue } from './config-validate.js';

export const ENV_PREFIX = 'VIREO_';
/** Path of the YAML file when `--config` is not given. */
export const CONFIG_FILE_ENV = 'VIREO_CONFIG';
/** `VIREO_*` variables that are not config keys. */
export const NON_CONFIG_ENV: ReadonlySet<string> = new Set([CONFIG_FILE_ENV]);

export function envNameOf(path: string): string {
  return ENV_PREFIX + path.toUpperCase().replaceAll('.', '__');
}

export function pathOfEnvName(name: string): string {
  return name.slice(ENV_PREFIX.length).toLowerCase().split('__').join('.');
}

export interface EnvOverride {
  path: string;
  value: unknown;
  /** The variable name, reported with any error about the value. */
  source: string;
}

export function readEnvOverrides(env: Readonly<Record<string, string | undefined>>, schema: SchemaNode): { overrides: EnvOverride[]; errors: ConfigIssue[] } {
  const entries = flattenSchema(schema);
  const specs = new Map<string, KeySpec>(entries.map((e) => [e.path, e.spec]));
  // keys inside named sections (`bridges.mqtt.<name>.server`) match any name
  const slotted = entries
    .filter((e) => e.path.includes(NAME_SLOT))
    .map((e) => ({
      re: new RegExp(
        `^${e.path
          .split(NAME_SLOT)
          .map((p) => p.replaceAll('.', '\\.'))
          .join('[^.]+')}$`,
      ),
      spec: e.spec,
    }));
  const specOf = (path: string) => specs.get(path) ?? slotted.find((s) => s.re.test(path))?.spec;
  const overrides: EnvOverride[] = [];
  const errors: ConfigIssue[] = [];
  // Sorted so that results (and error order) do not depend on the environment's order.
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (!name.startsWith(ENV_PREFIX) || NON_CONFIG_ENV.has(name) || text === undefined || text.trim() === '') continue;
    const path = pathOfEnvName(name);
    const spec = specOf(path);
    const parseAsYaml =
      spec === undefined || spec.kind === 'list' || spec.kind === 'value' || spec.kind === 'variants' || spec.kind === 'string_map' || /^(['"]).*\1$/s.test(text.trim());
    if (!parseAsYaml) {
      overrides.push({ path, value: text, source: name });
      continue;
    }
    try {
      overrides.push({ path, value: parseYaml(text) as unknown, source: name });
    } catch (err) {
      const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      errors.push({ path, message: `not valid YAML: ${first}`, source: name });
    }
  }
  return { overrides, errors };
}

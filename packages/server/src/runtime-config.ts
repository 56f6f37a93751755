/**
 * The limits the HTTP API changes while the node runs (docs/limits.md, "Changing limits while
 * the node runs"): `flapping_detect`, `force_shutdown`, `overload_protection` and the
 * listeners' limiters. Each change is checked with the configuration's own schema, so a bad
 * value gets the same message, naming the same key path, as at start-up.
 */
import type { AccessControl } from '@vireo/access';
import type { ConfigSection, ConfigValues, OverloadMonitor, RuntimeConfigs } from '@vireo/admin';
import { formatByteSize, formatDuration, formatRate, type Broker, type Rate } from '@vireo/broker';
import type { VireoConfig } from './config-schema.js';
import { flappingSchema } from './config-schema/flapping.js';
import { forceShutdownSchema } from './config-schema/force-shutdown.js';
import { limiters } from './config-schema/listeners.js';
import { overloadSchema } from './config-schema/overload.js';
import { validateConfig } from './config-validate.js';
import { applyForceShutdown, logOverload, overloadOptions } from './guard-config.js';
import { isKeySpec, type SchemaNode } from './schema-dsl.js';

/** A key's value as the configuration file spells it (`1m`, `32MB`, `disabled`). */
function spell(spec: SchemaNode[string], v: unknown): unknown {
  if (!isKeySpec(spec)) return v;
  if ((spec.kind === 'duration' || spec.kind === 'int') && spec.keywords) {
    const word = Object.entries(spec.keywords).find(([, n]) => n === v);
    if (word) return word[0];
  }
  if (spec.kind === 'duration' && typeof v === 'number') return formatDuration(v);
  if (spec.kind === 'bytesize' && typeof v === 'number') return formatByteSize(v);
  return v;
}

/**
 * A section checked against `schema` at path `path` (`flapping_detect`,
 * `listeners.tcp.default`): `put` lays the body over the values in force, so keys left out
 * keep theirs. `readOnly`: fields GET shows that a PUT may send back unchanged.
 */
function section<T>(
  path: string,
  schema: SchemaNode,
  current: () => T,
  apply: (v: T) => void,
  format: (v: T) => ConfigValues,
  readOnly: () => ConfigValues = () => ({}),
): ConfigSection {
  const get = () => ({ ...readOnly(), ...format(current()) });
  return {
    get,
    put: (body, dryRun = false) => {
      const errors: { path: string; message: string }[] = [];
      const fixed = readOnly();
      const raw: ConfigValues = format(current());
      for (const [k, v] of Object.entries(body)) {
        if (!(k in fixed)) raw[k] = v;
        else if (JSON.stringify(v) !== JSON.stringify(fixed[k]))
          errors.push({ path: `${path}.${k}`, message: 'cannot be changed while the node runs (set it in the configuration and restart)' });
      }
      // the schema at its full path, so that errors name the key as the configuration does
      const parts = path.split('.');
      const wrap = <V>(leaf: V): unknown => parts.reduceRight<unknown>((inner, p) => ({ [p]: inner }), leaf);
      const r = validateConfig<Record<string, unknown>>(wrap(schema) as SchemaNode, wrap(raw));
      errors.push(...r.errors.map((e) => ({ path: e.path, message: e.message })));
      if (errors.length > 0 || !r.config) return { errors };
      const value = parts.reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], r.config) as T;
      if (dryRun) return { value: format(value) };
      apply(value);
      // the keys that can change, without the node's own fields: what other nodes are sent
      return { value: format(current()) };
    },
  };
}

/** Each key of a schema section spelled as the file does. */
function spelled(schema: SchemaNode) {
  return (v: object): ConfigValues => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, spell(schema[k]!, x)]));
}

type ListenerRateKeys = 'max_conn_rate' | 'max_conn_burst' | 'messages_rate' | 'messages_burst' | 'bytes_rate' | 'bytes_burst';
type ListenerRatesConfig = Record<ListenerRateKeys, Rate | null>;

/** `1000/s`, `1MB/s` (bytes), `infinity` (a rate off), `0` (a burst off). */
function spellRate(r: Rate | null, bytes: boolean, off: 'infinity' | 0): string | 0 {
  if (!r) return off;
  const text = formatRate(r);
  if (!bytes) return text;
  const slash = text.indexOf('/');
  return `${formatByteSize(r.amount)}${text.slice(slash)}`;
}

export interface RuntimeConfigParts {
  config: VireoConfig;
  broker: Broker;
  access: AccessControl | undefined;
  overload: OverloadMonitor;
}

export function runtimeConfigs({ config, broker, access, overload }: RuntimeConfigParts): RuntimeConfigs {
  let flapping = config.flapping_detect;
  let forceShutdown = config.force_shutdown;
  let overloadCfg = config.overload_protection;
  const roots: Record<string, ConfigSection> = {
    force_shutdown: section(
      'force_shutdown',
      forceShutdownSchema,
      () => forceShutdown,
      (v) => {
        forceShutdown = v;
        applyForceShutdown(broker, v);
      },
      spelled(forceShutdownSchema),
    ),
    overload_protection: section(
      'overload_protection',
      overloadSchema,
      () => overloadCfg,
      (v) => {
        overloadCfg = v;
        overload.configure(overloadOptions(v), v.enable);
        logOverload(broker, v, v.enable ? 'Overload protection changed' : 'Overload protection disabled');
      },
      spelled(overloadSchema),
    ),
  };
  // flapping_detect acts in the authentication of CONNECTs, which AccessControl runs
  if (access) {
    roots.flapping_detect = section(
      'flapping_detect',
      flappingSchema,
      () => flapping,
      (v) => {
        flapping = v;
        access.setFlapping(v.enable ? { maxCount: v.max_count, windowMs: v.window_time, banMs: v.ban_time } : undefined);
      },
      spelled(flappingSchema),
    );
  }
  const listenerSections = new Map<string, ConfigSection>();
  return {
    roots,
    listener: (id) => {
      const known = listenerSections.get(id);
      if (known) return known;
      const [type, name, extra] = id.split(':');
      if (!type || !name || extra !== undefined || broker.listenerRates(id) === undefined) return undefined;
      const schema = limiters(type) as SchemaNode;
      const current = (): ListenerRatesConfig => {
        const r = broker.listenerRates(id)!;
        return {
          max_conn_rate: r.maxConnRate,
          max_conn_burst: r.maxConnBurst,
          messages_rate: r.messagesRate,
          messages_burst: r.messagesBurst,
          bytes_rate: r.bytesRate,
          bytes_burst: r.bytesBurst,
        };
      };
      const s = section<ListenerRatesConfig>(
        `listeners.${type}.${name}`,
        schema,
        current,
        (v) =>
          broker.setListenerRates(id, {
            maxConnRate: v.max_conn_rate,
            maxConnBurst: v.max_conn_burst,
            messagesRate: v.messages_rate,
            messagesBurst: v.messages_burst,
            bytesRate: v.bytes_rate,
            bytesBurst: v.bytes_burst,
          }),
        (v) => ({
          max_conn_rate: spellRate(v.max_conn_rate, false, 'infinity'),
          max_conn_burst: spellRate(v.max_conn_burst, false, 0),
          messages_rate: spellRate(v.messages_rate, false, 'infinity'),
          messages_burst: spellRate(v.messages_burst, false, 0),
          bytes_rate: spellRate(v.bytes_rate, true, 'infinity'),
          bytes_burst: spellRate(v.bytes_burst, true, 0),
        }),
        () => {
          const o = broker.options.listeners.find((l) => l.name === id);
          const running = broker.listenerStats().find((l) => l.name === id);
          return {
            id,
            type,
            name,
            bind: running?.bind ?? (o ? `${o.host}:${o.port}` : ''),
            running: running !== undefined,
            max_connections: o?.maxConnections ?? null,
          };
        },
      );
      listenerSections.set(id, s);
      return s;
    },
  };
}

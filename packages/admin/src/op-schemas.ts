/**
 * The arguments of the admin operations peers call (admin-ops.ts), as JSON schemas built
 * from the same pieces as the HTTP routes that make those calls: a peer's request is
 * checked as strictly as the HTTP request it stands for, and a bad one is answered with
 * an error before any handler runs.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { MAX_TRACE_BYTES } from '@vireo/broker';
import { MAX_LIMIT } from './paging.js';

type Schema = Record<string, unknown>;

/** `GET /api/v5/clients` filters. */
export const clientFilterProps = {
  clientid: { type: 'string' },
  username: { type: 'string' },
  ip_address: { type: 'string' },
  conn_state: { type: 'string', enum: ['connected', 'disconnected'] },
  like_clientid: { type: 'string' },
  like_username: { type: 'string' },
  proto_ver: { type: 'integer', enum: [3, 4, 5] },
} as const;

/** `GET /api/v5/subscriptions` filters. */
export const subscriptionFilterProps = {
  clientid: { type: 'string' },
  topic: { type: 'string' },
  qos: { type: 'integer', minimum: 0, maximum: 2 },
  share_group: { type: 'string' },
  match_topic: { type: 'string' },
} as const;

/** `POST /api/v5/clients/{clientid}/subscribe` body fields. */
export const subscribeProps = {
  topic: { type: 'string', minLength: 1 },
  qos: { type: 'integer', minimum: 0, maximum: 2, default: 0 },
  nl: { type: 'integer', minimum: 0, maximum: 1, default: 0 },
  rap: { type: 'integer', minimum: 0, maximum: 1, default: 0 },
  rh: { type: 'integer', minimum: 0, maximum: 2, default: 0 },
} as const;

/** A trace's name: its file's name too (broker's TRACE_NAME). */
export const traceName = { type: 'string', pattern: '^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$' } as const;
export const traceMaxBytes = { type: 'integer', minimum: 1024, maximum: MAX_TRACE_BYTES, default: 64 * 1024 * 1024 } as const;

/** The most a `trace.read` answers at once (and `GET /trace/{name}/log`'s `bytes` cap). */
export const TRACE_READ_CHUNK = 1024 * 1024;

const clientid = { type: 'string', minLength: 1 } as const;
const obj = (properties: Schema, required: string[]): Schema => ({ type: 'object', additionalProperties: false, required, properties });
/** An operation that takes no arguments: `{}` (or null, which the handler treats as `{}`). */
const none: Schema = obj({}, []);
const page = (filters: Schema): Schema =>
  obj({ filters: obj(filters, []), offset: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 0, maximum: MAX_LIMIT } }, ['filters', 'offset', 'limit']);

/**
 * Operation → the schema of its arguments, for every operation a node serves (admin-ops.ts
 * refuses to start with an operation that has none here, so a new one cannot skip the check).
 */
export const OP_SCHEMAS: Record<string, Schema> = {
  'clients.page': page(clientFilterProps),
  'subscriptions.page': page(subscriptionFilterProps),
  'topics.page': page({ topic: { type: 'string' } }),
  'client.get': obj({ clientid }, ['clientid']),
  'client.kick': obj({ clientid }, ['clientid']),
  'client.subscriptions': obj({ clientid }, ['clientid']),
  'client.subscribe': obj({ clientid, share: { type: 'string', minLength: 1 }, ...subscribeProps }, ['clientid', 'topic', 'qos', 'nl', 'rap', 'rh']),
  'client.unsubscribe': obj({ clientid, topic: { type: 'string', minLength: 1 } }, ['clientid', 'topic']),
  'trace.start': obj(
    {
      name: traceName,
      type: { type: 'string', enum: ['clientid', 'topic', 'ip_address'] },
      filter: { type: 'string', minLength: 1 },
      endAt: { type: 'integer', minimum: 0 },
      maxBytes: traceMaxBytes,
    },
    ['name', 'type', 'filter', 'endAt', 'maxBytes'],
  ),
  'trace.stop': obj({ name: traceName }, ['name']),
  'trace.delete': obj({ name: traceName }, ['name']),
  'trace.list': none,
  // a piece of a trace's file (routes-trace-download.ts)
  'trace.read': obj({ name: traceName, position: { type: 'integer', minimum: 0 }, bytes: { type: 'integer', minimum: 1, maximum: TRACE_READ_CHUNK } }, ['name']),
  'node.info': none,
  'node.stats': none,
  'node.metrics': none,
  'node.listeners': none,
  'prometheus.json': none,
  'retainer.delete': obj({ topic: { type: 'string', minLength: 1 } }, ['topic']),
  'retainer.clean': none,
  'bridges.list': none,
  'alarms.page': page({ activated: { type: 'boolean' } }),
  'alarms.clear': none,
  'monitor.samples': obj({ latest: { type: 'integer', minimum: 1, maximum: 86_400 } }, []),
  'monitor.current': none,
  'rules.metrics': none,
  'rules.sinks': none,
  // new rules for the file source, as text (routes-authz.ts)
  'authz.file.put': obj({ rules: { type: 'string', maxLength: 1_000_000 } }, ['rules']),
  'authz.cache.clear': none,
};

/** For the tables kept the same on every node (record-sync.ts): the entry itself is checked by the table. */
export function tableOpSchemas(table: string): Record<string, Schema> {
  const id = { type: 'string', minLength: 1, maxLength: 1024 };
  return {
    [`${table}.put`]: obj({ id, value: {}, onlyIfMissing: { type: 'boolean' } }, ['id', 'value']),
    [`${table}.delete`]: obj({ id }, ['id']),
    [`${table}.list`]: none,
  };
}

/** Compiles the schemas once; `check(op, args)` returns why `args` are bad, or undefined. */
export function opValidator(schemas: Record<string, Schema>): (op: string, args: unknown) => string | undefined {
  // no coercion, no defaults filled in: a peer sends exactly what the asking node built
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false, coerceTypes: false });
  const compiled = new Map<string, ValidateFunction>();
  for (const [op, schema] of Object.entries(schemas)) compiled.set(op, ajv.compile(schema));
  return (op, args) => {
    const v = compiled.get(op);
    if (!v) return 'the operation has no argument schema';
    if (v(args)) return undefined;
    return ajv.errorsText(v.errors, { dataVar: 'args' });
  };
}

/**
 * `durable_storage`: where retained messages and persistent sessions are kept, and when they are committed.
 */
import { duration, oneOf, type SchemaNode } from '../schema-dsl.js';

export const durableStorageSchema = {
  backend: oneOf({
    default: 'sqlite',
    values: ['sqlite', 'memory'],
    description:
      '`sqlite`: retained messages and persistent sessions are kept in `node.data_dir` and survive a restart or a crash; `memory`: nothing survives a restart (tests, benchmarks).',
  }),
  durability: oneOf({
    default: 'durable',
    values: ['durable', 'relaxed'],
    description:
      '`durable`: a QoS 1 PUBACK / QoS 2 PUBREC goes to the publisher only once the copies for persistent sessions (and a retained change) are committed to disk; `relaxed`: acknowledge at once and commit within `flush_interval` — a crash can lose what was acknowledged in that interval. See docs/persistence.md.',
  }),
  flush_interval: duration({
    default: 100,
    min: 1,
    max: 60_000,
    description: 'With `durability: relaxed`, the longest a change waits before its commit starts.',
  }),
} as const satisfies SchemaNode;

/**
 * `force_shutdown`: EMQX's keys and defaults, measured on what a client has waiting for its
 * socket (docs/limits.md): a client that stops reading is disconnected before its backlog
 * eats the node's memory.
 */
import { bool, bytesize, int, type SchemaNode } from '../schema-dsl.js';

export const forceShutdownSchema = {
  enable: bool({ default: true, description: 'Disconnect a client whose backlog passes `max_mailbox_size` or `max_heap_size` (logged as `force_shutdown` with the reason).' }),
  max_mailbox_size: int({
    default: 1000,
    min: 0,
    max: 2 ** 31 - 1,
    description:
      'Messages and packets that arrive for a client while more than 1MB already waits for its socket (QoS 0 ones dropped, others written; counted until it is back under 1MB) past which it is disconnected: reason `mailbox_overflow`. The session queue is not counted (`mqtt.max_mqueue_len` bounds it). 0: no limit.',
  }),
  max_heap_size: bytesize({
    default: 32 * 1024 * 1024,
    min: 0,
    max: 2 ** 40,
    description: 'Bytes written to a client that its socket has not taken yet past which it is disconnected: reason `proc_heap_too_big`. 0: no limit.',
  }),
} as const satisfies SchemaNode;

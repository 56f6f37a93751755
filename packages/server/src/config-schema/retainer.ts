/**
 * `retainer`: the background sweep of expired retained and queued messages.
 */
import { duration, type SchemaNode } from '../schema-dsl.js';

export const retainerSchema = {
  msg_clear_interval: duration({
    default: 30_000,
    min: 1,
    max: 2 ** 31 - 1,
    keywords: { disabled: 0 },
    description:
      "How often expired messages are deleted in the background (memory and `node.data_dir`): retained messages past their Message Expiry Interval, and expired messages queued for sessions. `disabled`: only when a subscription or delivery finds them. EMQX's default is off; Vireo sweeps so the store does not keep them.",
  }),
} as const satisfies SchemaNode;

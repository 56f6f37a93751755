/**
 * `retainer`: the background sweep of expired retained and queued messages, and the
 * limits of the retained store (EMQX's key names and defaults).
 */
import { bytesize, duration, int, type SchemaNode } from '../schema-dsl.js';

export const retainerSchema = {
  msg_clear_interval: duration({
    default: 30_000,
    min: 1,
    max: 2 ** 31 - 1,
    keywords: { disabled: 0 },
    description:
      "How often expired messages are deleted in the background (memory and `node.data_dir`): retained messages past their Message Expiry Interval, and expired messages queued for sessions. `disabled`: only when a subscription or delivery finds them. EMQX's default is off; Vireo sweeps so the store does not keep them.",
  }),
  max_payload_size: bytesize({
    default: 1024 * 1024,
    min: 0,
    max: 2 ** 31 - 1,
    description:
      "Largest payload stored as a retained message; `0` = unlimited. A bigger retained publish is still delivered to subscribers but not retained (logged `failed_to_retain_message` with `reason: payload_too_large`, counted in `vireo_retained_dropped_total`). EMQX's default, 1MB.",
  }),
  backend: {
    max_retained_messages: int({
      default: 0,
      min: 0,
      max: 2 ** 31 - 1,
      description:
        "Most retained topics (the node's own `$SYS` ones aside); `0` = unlimited (EMQX's default: the memory alarm speaks first). When full, a retained publish to a new topic is delivered but not retained (`reason: table_is_full`); replacing or clearing an existing topic's message still works. Per cluster, approximately: see docs/limits.md.",
    }),
  },
} as const satisfies SchemaNode;

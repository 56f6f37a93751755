/** `flapping_detect`: EMQX's keys and defaults (docs/limits.md). */
import { bool, duration, int, type SchemaNode } from '../schema-dsl.js';

export const flappingSchema = {
  enable: bool({
    default: false,
    description:
      'Ban a client id that connects more than `max_count` times within `window_time`, for `ban_time` (listed by `GET /api/v5/banned`, by `flapping detector`). Off by default, as in EMQX.',
  }),
  max_count: int({
    default: 15,
    min: 1,
    max: 2 ** 31 - 1,
    description: 'CONNECTs of one client id allowed within `window_time`; the next one is refused (0x8A Banned) and bans it.',
  }),
  window_time: duration({ default: 60_000, min: 1, max: 2 ** 31 - 1, description: "How long a client id's CONNECTs are counted from its first one." }),
  ban_time: duration({ default: 300_000, min: 1, max: 2 ** 31 - 1, description: 'How long a flapping client id stays banned.' }),
} as const satisfies SchemaNode;

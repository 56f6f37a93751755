/**
 * `log`: level and format of the structured log.
 */
import { duration, oneOf, type SchemaNode } from '../schema-dsl.js';

export const logSchema = {
  level: oneOf({
    default: 'info',
    values: ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'],
    description: 'Least severe level logged (EMQX/syslog names; `notice` logs as info, `critical` and above as fatal).',
  }),
  format: oneOf({
    default: 'auto',
    values: ['auto', 'json', 'text'],
    description: '`json`: one JSON object per line; `text`: human-readable; `auto`: text on a terminal, JSON otherwise.',
  }),
  throttling: {
    time_window: duration({
      default: 60_000,
      min: 1000,
      max: 2 ** 31 - 1,
      description:
        'Log lines that can come once per message (`Dropped msg due to mqueue is full`, `Dropped qos2 packet due to too many awaiting_rel`, `Publish denied by authorization`) are written at most once per client and window: the first at once, the others as one line with their count (`throttled`) when the window ends. The counters are exact either way.',
    }),
  },
} as const satisfies SchemaNode;

/**
 * `log`: level and format of the structured log.
 */
import { oneOf, type SchemaNode } from '../schema-dsl.js';

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
} as const satisfies SchemaNode;

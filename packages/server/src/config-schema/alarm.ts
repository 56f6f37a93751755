/**
 * `alarm`: what an alarm does when it is raised or cleared, and how long it is remembered
 * (EMQX's keys and defaults).
 */
import { duration, int, list, type SchemaNode } from '../schema-dsl.js';

export const ALARM_ACTIONS = ['log', 'publish'] as const;

export const alarmSchema = {
  actions: list({
    default: [...ALARM_ACTIONS],
    item: 'string',
    description:
      'What an alarm change does: `log` (a warning when raised, info when cleared) and `publish` (`$SYS/brokers/<node>/alarms/activate|deactivate`, JSON). It is listed by `GET /api/v5/alarms` either way.',
  }),
  size_limit: int({
    default: 1000,
    min: 1,
    max: 3000,
    description: 'Deactivated alarms kept for `GET /api/v5/alarms?activated=false`; the oldest are forgotten first.',
  }),
  validity_period: duration({
    default: 24 * 3600_000,
    min: 1000,
    max: 2 ** 31 - 1,
    description: 'How long a deactivated alarm is kept.',
  }),
} as const satisfies SchemaNode;

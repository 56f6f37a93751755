/**
 * `sys_topics`: the `$SYS` heartbeat and client event topics.
 */
import { bool, duration, type SchemaNode } from '../schema-dsl.js';

export const sysTopicsSchema = {
  sys_msg_interval: duration({
    default: 60_000,
    min: 1,
    max: 2 ** 31 - 1,
    keywords: { disabled: 0 },
    description: 'Interval of the `$SYS/brokers/<node>/…` heartbeat topics (uptime, counters); `disabled` turns them off.',
  }),
  sys_event_messages: {
    client_connected: bool({
      default: true,
      description: 'Publish `$SYS/brokers/<node>/clients/<clientid>/connected` when a client connects.',
    }),
    client_disconnected: bool({
      default: true,
      description: 'Publish `$SYS/brokers/<node>/clients/<clientid>/disconnected` when a client disconnects.',
    }),
  },
} as const satisfies SchemaNode;

/**
 * `dashboard`: the HTTP API listener.
 */
import { bind, type SchemaNode } from '../schema-dsl.js';

export const dashboardSchema = {
  listeners: {
    http: {
      bind: bind({
        default: { host: '0.0.0.0', port: 18083 },
        description: 'Address of the HTTP API (`/api/v5`), Prometheus metrics and health probes (`/status`). Port 0 disables it.',
      }),
    },
  },
} as const satisfies SchemaNode;

/**
 * `prometheus`: the metrics endpoints.
 */
import { bool, type SchemaNode } from '../schema-dsl.js';

export const prometheusSchema = {
  enable: bool({
    default: true,
    description:
      "Serve Prometheus metrics (`/api/v5/prometheus/stats`, `/metrics`). `false` also stops what only they need: Node.js process collectors (event-loop delay, GC) and delivery-latency sampling; the scrape paths then answer 404. The plain counters behind `/api/v5/stats` and `$SYS` are always kept. Vireo's own key (EMQX's metrics cannot be turned off): it exists to measure what metrics cost (docs/performance.md).",
  }),
  enable_basic_auth: bool({
    default: false,
    description: 'Require an API key (HTTP Basic) for `/api/v5/prometheus/stats` and `/metrics`; off by default, as Prometheus setups expect.',
  }),
} as const satisfies SchemaNode;

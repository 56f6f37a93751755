/**
 * `GET /api/v5/prometheus/stats?mode=…` as EMQX: `node` (this node's series, the default),
 * `all_nodes_unaggregated` (every node's series, each with its `node` label) and
 * `all_nodes_aggregated` (the nodes' series summed, without the `node` label). Each node
 * sends its registry as prom-client JSON over the cluster's admin calls; prom-client's own
 * aggregation puts them together, so histograms and labels are handled once, there.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ClusterQuery, NodeError } from './cluster-query.js';

export const PROMETHEUS_MODES = ['node', 'all_nodes_aggregated', 'all_nodes_unaggregated'] as const;
export type PrometheusMode = (typeof PROMETHEUS_MODES)[number];

/** One metric of `registry.getMetricsAsJSON()` after a trip through JSON. */
interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values?: { value: number | null; labels: Record<string, string | number>; metricName?: string }[];
}

/**
 * How a series adds up over the cluster where a plain sum would be wrong: the same value
 * on every node (the cluster's view, replicated data) is taken once.
 */
const AGGREGATORS: Record<string, string> = {
  vireo_cluster_nodes_running: 'max',
  vireo_cluster_nodes_stopped: 'max',
  vireo_routes_count: 'max',
  vireo_retained_count: 'max',
};

export async function scrape(q: ClusterQuery, registry: Registry, mode: PrometheusMode): Promise<{ text: string; errors: NodeError[] }> {
  if (mode === 'node') return { text: await registry.metrics(), errors: [] };
  const g = await q.gather<MetricJson[]>('prometheus.json', null);
  const aggregated = mode === 'all_nodes_aggregated';
  const perNode = g.parts.map((p) =>
    p.value.map((m) => ({
      ...m,
      // unaggregated: every series keeps its node label, so "sum" groups nothing and
      // nothing is omitted (prom-client omits e.g. the process start time when merging)
      aggregator: aggregated ? (AGGREGATORS[m.name] ?? m.aggregator ?? 'sum') : 'sum',
      values: (m.values ?? []).map((v) => {
        const labels = { ...v.labels };
        if (aggregated) delete labels.node;
        // JSON has no NaN/Infinity: they arrive as null
        return { ...v, labels, value: v.value === null ? Number.NaN : v.value };
      }),
    })),
  );
  const merged = AggregatorRegistry.aggregate(perNode as unknown as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  let text = await merged.metrics();
  if (g.errors.length > 0) text = g.errors.map((e) => `# vireo: node ${e.node} is missing (${e.reason}): ${e.message}\n`).join('') + text;
  return { text, errors: g.errors };
}

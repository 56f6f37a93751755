/**
 * A trace runs on every node, so it must also reach a node that joins (or restarts) while
 * it runs: the client may connect there next. When a node appears, every node that runs
 * traces starts them on it (one that already has a trace answers "exists", which is fine);
 * and a node whose API starts asks the running nodes for their traces, in case it joined
 * before its API could answer the others.
 */
import type { Broker, TraceInfo } from '@vireo/broker';
import type { ClusterQuery } from './cluster-query.js';
import type { NodeTrace, TraceStartArgs } from './admin-ops.js';

function startArgs(t: TraceInfo): TraceStartArgs {
  return { name: t.name, type: t.type, filter: t.filter, endAt: t.endAt, maxBytes: t.maxBytes };
}

const live = (t: TraceInfo) => t.status === 'running' && t.endAt > Date.now();

export function syncTraces(broker: Broker, q: ClusterQuery): () => void {
  const startOn = (node: string, t: TraceInfo) =>
    q.call<{ trace?: NodeTrace }>(node, 'trace.start', startArgs(t)).then(
      (r) => {
        if (r.trace) broker.logger.info({ trace: t.name, on_node: node }, 'Trace started on a node that joined');
      },
      (err: unknown) => broker.logger.warn({ trace: t.name, on_node: node, err: String(err) }, 'Could not start a trace on a node that joined'),
    );

  let known = new Set(broker.cluster.nodes());
  const onChange = (nodes: string[]) => {
    const fresh = nodes.filter((n) => !known.has(n) && n !== q.self);
    known = new Set(nodes);
    if (fresh.length === 0) return;
    const running = broker.tracer.list().filter(live);
    for (const node of fresh) for (const t of running) void startOn(node, t);
  };
  broker.on('cluster.nodes_changed', onChange);

  const others = q.nodes().filter((n) => n !== q.self);
  if (others.length > 0) {
    void q.gather<NodeTrace[]>('trace.list', null, others).then((g) => {
      const mine = new Set(broker.tracer.list().map((t) => t.name));
      for (const p of g.parts) {
        for (const t of p.value.filter(live)) {
          if (mine.has(t.name)) continue;
          mine.add(t.name);
          void startOn(q.self, t);
        }
      }
    });
  }
  return () => broker.off('cluster.nodes_changed', onChange);
}

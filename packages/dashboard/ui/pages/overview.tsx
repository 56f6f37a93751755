/**
 * The cluster at a glance: its nodes (a node that does not answer is shown as such), totals,
 * and the last hour of messages per second and connections, for the cluster or one node.
 */
import { useMemo, useState } from 'preact/hooks';
import { enc, get, request } from '../api.js';
import { usePoll } from '../hooks.js';
import { TimeChart } from '../chart.js';
import { bytes, duration, num } from '../format.js';
import { Badge, ErrorNote, Page, Panel, Partial, Stat, Table, value } from '../ui.js';

interface NodeRow {
  node: string;
  node_status: string;
  version?: string;
  uptime?: number;
  connections?: number;
  live_connections?: number;
  memory_used?: number;
  memory_total?: number;
  load1?: number;
  error?: string;
  cluster_status?: string;
  lag?: number;
}

interface Current {
  connections: number;
  live_connections: number;
  subscriptions: number;
  topics: number;
  retained_msg_count: number;
  received_msg_rate: number;
  sent_msg_rate: number;
  dropped_msg_rate: number;
  event_loop_lag_ms: number;
  nodes: number;
  nodes_down: string[];
}

interface Sample {
  time_stamp: number;
  connections: number;
  live_connections: number;
  received: number;
  sent: number;
  dropped: number;
}

async function loadNodes(): Promise<{ data: NodeRow[]; partial: string[] }> {
  const r = await request<NodeRow[]>('GET', '/api/v5/nodes');
  const lags = await Promise.all(
    r.data.map((n) => (n.node_status === 'running' ? get<{ event_loop_lag_ms: number }>(`/api/v5/monitor_current/nodes/${enc(n.node)}`).then((c) => c.event_loop_lag_ms, () => undefined) : undefined)),
  );
  return { data: r.data.map((n, i) => ({ ...n, lag: lags[i] })), partial: r.partial };
}

export function Overview() {
  const [scope, setScope] = useState('');
  const nodes = usePoll(loadNodes, 5000);
  const current = usePoll(() => request<Current>('GET', '/api/v5/monitor_current'), 5000);
  const sessions = usePoll(() => get<{ 'sessions.count': number; 'subscriptions.shared.count': number }>('/api/v5/stats?aggregate=true'), 5000);
  const series = usePoll(() => get<Sample[]>(scope ? `/api/v5/monitor/nodes/${enc(scope)}?latest=3600` : '/api/v5/monitor?latest=3600'), 5000, [scope]);
  const c = current.data;
  const charts = useMemo(() => toCharts(series.data ?? []), [series.data]);
  const running = (nodes.data ?? []).filter((n) => n.node_status === 'running');

  return (
    <Page title="Overview">
      <ErrorNote error={nodes.error ?? current.error} />
      <Partial nodes={[...new Set([...nodes.partial, ...current.partial])]} />
      <div class="stats" aria-live="polite">
        <Stat label="Nodes" value={`${running.length} / ${nodes.data?.length ?? '–'}`} sub="running / known" />
        <Stat label="Connections" value={num(c?.live_connections)} sub={`${num(c?.connections)} sessions in all`} />
        <Stat label="Sessions" value={num(sessions.data?.['sessions.count'])} />
        <Stat label="Subscriptions" value={num(c?.subscriptions)} sub={`${num(sessions.data?.['subscriptions.shared.count'])} shared`} />
        <Stat label="Topics" value={num(c?.topics)} />
        <Stat label="Retained" value={num(c?.retained_msg_count)} />
        <Stat label="Messages in /s" value={num(c?.received_msg_rate)} />
        <Stat label="Messages out /s" value={num(c?.sent_msg_rate)} />
        <Stat label="Dropped /s" value={num(c?.dropped_msg_rate)} />
      </div>

      <Panel title="Nodes">
        <Table
          label="Nodes"
          rows={nodes.data}
          rowKey={(n) => n.node}
          columns={[
            { title: 'Node', cell: (n) => <strong>{n.node}</strong> },
            {
              title: 'Status',
              cell: (n) =>
                n.node_status === 'running' ? <Badge kind="ok">running</Badge> : <Badge kind="bad">{n.error ? 'not answering' : (n.cluster_status ?? n.node_status)}</Badge>,
            },
            { title: 'Version', cell: (n) => n.version ?? '–', wide: true },
            { title: 'Uptime', cell: (n) => duration(n.uptime) },
            { title: 'Connections', cell: (n) => num(n.live_connections), num: true },
            { title: 'Memory', cell: (n) => bytes(n.memory_used), num: true },
            { title: 'Event-loop lag', cell: (n) => (n.lag === undefined ? '–' : `${n.lag} ms`), num: true },
          ]}
        />
      </Panel>

      <Panel
        title="Last hour"
        actions={
          <label class="inline">
            <span>Show</span>
            <select value={scope} onChange={(e) => setScope(value(e))} aria-label="Nodes shown in the charts">
              <option value="">All nodes</option>
              {running.map((n) => (
                <option value={n.node}>{n.node}</option>
              ))}
            </select>
          </label>
        }
      >
        <ErrorNote error={series.error} />
        <div class="charts">
          <TimeChart
            title="Messages per second"
            times={charts.times}
            series={[
              { label: 'in', color: '#2f6f9e', values: charts.received },
              { label: 'out', color: '#2f9e6f', values: charts.sent },
              { label: 'dropped', color: '#c4453a', values: charts.dropped },
            ]}
          />
          <TimeChart title="Connections" times={charts.times} series={[{ label: 'connections', color: '#7a4fb0', values: charts.connections }]} />
        </div>
      </Panel>
    </Page>
  );
}

/** Samples (counts per interval) to per-second rates on a time axis in seconds. */
function toCharts(samples: Sample[]) {
  const times = samples.map((s) => s.time_stamp / 1000);
  const gaps = times.slice(1).map((t, i) => t - times[i]!).sort((a, b) => a - b);
  const step = gaps.length ? gaps[Math.floor(gaps.length / 2)]! : 10;
  const rate = (k: 'received' | 'sent' | 'dropped') => samples.map((s) => Math.round((s[k] / step) * 10) / 10);
  return { times, received: rate('received'), sent: rate('sent'), dropped: rate('dropped'), connections: samples.map((s) => s.live_connections) };
}

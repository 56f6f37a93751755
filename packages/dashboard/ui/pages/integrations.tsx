/**
 * Integrations: MQTT bridges and webhooks (with status and counters), and rules, connectors
 * and actions on nodes that serve them (their tabs appear when the API has them).
 */
import { enc, get } from '../api.js';
import { usePoll, useRoute } from '../hooks.js';
import { num } from '../format.js';
import { Tabs } from '../tabs.js';
import { Badge, ErrorNote, Page, Partial, Table, type Column } from '../ui.js';
import { request } from '../api.js';

interface Bridge {
  id: string;
  server: string;
  ingress: string | null;
  egress: string | null;
  status: string;
  node_status: { node: string; status: string; status_reason?: string }[];
  metrics: Record<string, number>;
}

const statusKind = (s: string) => (s === 'connected' || s === 'running' || s === 'enabled' ? 'ok' : s === 'connecting' || s === 'inconsistent' ? 'warn' : s === 'disconnected' || s === 'stopped' ? 'bad' : 'muted');

export function Integrations(props: { have: Set<string> }) {
  const [, sub] = useRoute();
  const optional: [string, string][] = (
    [
      ['rules', 'Rules', '/api/v5/rules'],
      ['connectors', 'Connectors', '/api/v5/connectors'],
      ['actions', 'Actions', '/api/v5/actions'],
    ] as const
  )
    .filter(([, , path]) => props.have.has(path))
    .map(([id, label]) => [id, label]);
  const tab = sub ?? 'bridges';
  return (
    <Page title="Integrations">
      <Tabs base="integrations" current={tab} tabs={[['bridges', 'MQTT bridges'], ['webhooks', 'Webhooks'], ...optional]} />
      {tab === 'webhooks' ? <Webhooks /> : tab === 'bridges' ? <Bridges /> : <Generic path={`/api/v5/${tab}`} label={tab} />}
    </Page>
  );
}

function Bridges() {
  const list = usePoll(() => request<Bridge[]>('GET', '/api/v5/bridges'), 5000);
  return (
    <>
      <ErrorNote error={list.error} />
      <Partial nodes={list.partial} />
      <Table
        label="MQTT bridges"
        rows={list.data}
        rowKey={(b) => b.id}
        empty="No MQTT bridge is configured (bridges.mqtt.<name> in the configuration)."
        columns={[
          { title: 'Bridge', cell: (b) => <strong>{b.id}</strong> },
          { title: 'Server', cell: (b) => <code>{b.server}</code>, wide: true },
          { title: 'Status', cell: (b) => <Badge kind={statusKind(b.status)}>{b.status}</Badge> },
          { title: 'Per node', cell: (b) => b.node_status.map((n) => `${n.node}: ${n.status}${n.status_reason ? ` (${n.status_reason})` : ''}`).join('; '), wide: true },
          { title: 'Sent', cell: (b) => num(b.metrics.success), num: true },
          { title: 'Received', cell: (b) => num(b.metrics.received), num: true },
          { title: 'Failed', cell: (b) => num(b.metrics.failed), num: true },
          { title: 'Dropped', cell: (b) => num(b.metrics.dropped), num: true },
          { title: 'Queued', cell: (b) => num(b.metrics.queuing), num: true, wide: true },
        ]}
      />
    </>
  );
}

interface HookRow {
  name: string;
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
  queuing: number;
}

/** Webhook counters, summed over the nodes, from the Prometheus text (the only place the API has them). */
async function loadWebhooks(): Promise<HookRow[]> {
  const res = await fetch('/api/v5/prometheus/stats?mode=all_nodes_aggregated', { headers: { accept: 'text/plain' } });
  if (res.status === 404) return [];
  const text = await res.text();
  const rows = new Map<string, HookRow>();
  const re = /^vireo_webhook_(sent|failed|retried|dropped_queue_full|queuing)\{[^}]*webhook="([^"]+)"[^}]*\}\s+([0-9.e+-]+)/gm;
  for (const m of text.matchAll(re)) {
    const name = m[2]!;
    const r = rows.get(name) ?? { name, sent: 0, failed: 0, retried: 0, dropped: 0, queuing: 0 };
    const k = m[1] === 'dropped_queue_full' ? 'dropped' : (m[1] as keyof Omit<HookRow, 'name'>);
    r[k] += Number(m[3]);
    rows.set(name, r);
  }
  return [...rows.values()];
}

function Webhooks() {
  const list = usePoll(loadWebhooks, 5000);
  return (
    <>
      <ErrorNote error={list.error} />
      <Table
        label="Webhooks"
        rows={list.data}
        rowKey={(w) => w.name}
        empty="No webhook is configured (webhook.<name> in the configuration), or Prometheus metrics are off."
        columns={[
          { title: 'Webhook', cell: (w) => <strong>{w.name}</strong> },
          { title: 'Sent', cell: (w) => num(w.sent), num: true },
          { title: 'Failed', cell: (w) => num(w.failed), num: true },
          { title: 'Retried', cell: (w) => num(w.retried), num: true },
          { title: 'Dropped (queue full)', cell: (w) => num(w.dropped), num: true },
          { title: 'Queued', cell: (w) => num(w.queuing), num: true },
        ]}
      />
    </>
  );
}

type Item = Record<string, unknown>;

/** Rules, connectors or actions as the node lists them (EMQX's shapes): name, status, and counters when given. */
function Generic(props: { path: string; label: string }) {
  const list = usePoll(async () => {
    const r = await get<Item[] | { data: Item[] }>(props.path);
    const items = Array.isArray(r) ? r : r.data;
    // a rule's counters are a call of their own (EMQX's /rules/{id}/metrics)
    if (props.path !== '/api/v5/rules') return items;
    return Promise.all(items.map(async (i) => ({ ...i, metrics: (await get<{ metrics: Item }>(`/api/v5/rules/${enc(String(i.id))}/metrics`).catch(() => ({ metrics: {} }))).metrics })));
  }, 5000, [props.path]);
  const str = (v: unknown) => (v === undefined || v === null ? '–' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const metrics = (i: Item) => {
    const m = (i.metrics ?? {}) as Record<string, unknown>;
    return Object.entries(m)
      .filter(([, v]) => typeof v === 'number')
      .map(([k, v]) => `${k} ${num(v as number)}`)
      .join(', ');
  };
  const columns: Column<Item>[] = [
    { title: 'Name', cell: (i) => <strong>{str(i.id ?? i.name)}</strong> },
    { title: 'Type', cell: (i) => str(i.type), wide: true },
    { title: 'Status', cell: (i) => { const s = str(i.status ?? (i.enable === false ? 'disabled' : i.enable === true ? 'enabled' : undefined)); return <Badge kind={statusKind(s)}>{s}</Badge>; } },
    { title: 'SQL / description', cell: (i) => (i.sql ? <code>{str(i.sql)}</code> : str(i.description ?? i.connector)), wide: true },
    {
      title: 'Per node',
      cell: (i) => (Array.isArray(i.node_status) ? (i.node_status as { node: string; status: string; status_reason?: string }[]).map((n) => `${n.node}: ${n.status}${n.status_reason ? ` (${n.status_reason})` : ''}`).join('; ') : '–'),
      wide: true,
    },
    { title: 'Counters', cell: (i) => metrics(i) || '–' },
  ];
  return (
    <>
      <ErrorNote error={list.error} />
      <Table label={props.label} rows={list.data} rowKey={(i) => str(i.id ?? i.name)} columns={columns} />
    </>
  );
}

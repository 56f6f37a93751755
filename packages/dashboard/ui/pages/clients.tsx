/** Every client of the cluster, searched and paged on the nodes (EMQX's `/clients` filters). */
import { useState } from 'preact/hooks';
import { get, qs, request } from '../api.js';
import { usePoll } from '../hooks.js';
import { time } from '../format.js';
import { Badge, ErrorNote, Field, Page, Pager, Panel, Partial, Table, value, type PageMeta } from '../ui.js';

export interface ClientRow {
  clientid: string;
  username: string | null;
  node: string;
  connected: boolean;
  ip_address: string | null;
  port: number | null;
  listener: string | null;
  proto_ver: number | null;
  keepalive: number | null;
  clean_start: boolean;
  expiry_interval: number;
  created_at: string;
  connected_at: string | null;
  subscriptions_cnt: number;
  inflight_cnt: number;
  inflight_max: number;
  mqueue_len: number;
  mqueue_max: number;
  awaiting_rel_cnt: number;
  recv_oct: number;
  send_oct: number;
}

interface Filters {
  like_clientid: string;
  like_username: string;
  ip_address: string;
  node: string;
  proto_ver: string;
  conn_state: string;
}

const EMPTY: Filters = { like_clientid: '', like_username: '', ip_address: '', node: '', proto_ver: '', conn_state: '' };

export const protocol = (v: number | null) => (v === 5 ? 'MQTT 5' : v === 4 ? 'MQTT 3.1.1' : v === 3 ? 'MQTT 3.1' : '–');

export function Clients() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [page, setPage] = useState(1);
  const nodes = usePoll(() => get<{ node: string; node_status: string }[]>('/api/v5/nodes'), 15_000);
  const list = usePoll(() => request<{ data: ClientRow[]; meta: PageMeta }>('GET', `/api/v5/clients${qs({ ...filters, page, limit: 50 })}`), 5000, [filters, page]);
  const set = (k: keyof Filters) => (e: Parameters<typeof value>[0]) => setDraft({ ...draft, [k]: value(e) });

  return (
    <Page title="Clients">
      <Panel>
        <form
          class="filters"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setPage(1);
            setFilters(draft);
          }}
        >
          <Field label="Client ID contains">
            <input name="clientid" value={draft.like_clientid} onInput={set('like_clientid')} />
          </Field>
          <Field label="Username contains">
            <input name="username" value={draft.like_username} onInput={set('like_username')} />
          </Field>
          <Field label="IP address">
            <input name="ip" value={draft.ip_address} onInput={set('ip_address')} />
          </Field>
          <Field label="Node">
            <select name="node" value={draft.node} onChange={set('node')}>
              <option value="">Any</option>
              {(nodes.data ?? []).map((n) => (
                <option value={n.node}>{n.node}</option>
              ))}
            </select>
          </Field>
          <Field label="Protocol">
            <select name="proto_ver" value={draft.proto_ver} onChange={set('proto_ver')}>
              <option value="">Any</option>
              <option value="5">MQTT 5</option>
              <option value="4">MQTT 3.1.1</option>
              <option value="3">MQTT 3.1</option>
            </select>
          </Field>
          <Field label="State">
            <select name="conn_state" value={draft.conn_state} onChange={set('conn_state')}>
              <option value="">Any</option>
              <option value="connected">Connected</option>
              <option value="disconnected">Disconnected</option>
            </select>
          </Field>
          <div class="filter-buttons">
            <button type="submit" class="primary">
              Search
            </button>
            <button
              type="button"
              onClick={() => {
                setDraft(EMPTY);
                setFilters(EMPTY);
                setPage(1);
              }}
            >
              Clear
            </button>
          </div>
        </form>
      </Panel>
      <ErrorNote error={list.error} />
      <Partial nodes={list.data?.meta.errors?.map((e) => e.node) ?? list.partial} />
      <Table
        label="Clients"
        rows={list.data?.data}
        rowKey={(c) => `${c.node}/${c.clientid}`}
        empty="No client matches."
        columns={[
          { title: 'Client ID', cell: (c) => <a href={`#/clients/${encodeURIComponent(c.clientid)}`}>{c.clientid}</a> },
          { title: 'Username', cell: (c) => c.username ?? '–' },
          { title: 'Status', cell: (c) => (c.connected ? <Badge kind="ok">connected</Badge> : <Badge kind="muted">disconnected</Badge>) },
          { title: 'Node', cell: (c) => c.node },
          { title: 'IP address', cell: (c) => (c.ip_address ? `${c.ip_address}:${c.port}` : '–'), wide: true },
          { title: 'Protocol', cell: (c) => protocol(c.proto_ver), wide: true },
          { title: 'Connected at', cell: (c) => time(c.connected_at), wide: true },
          { title: 'Subs', cell: (c) => c.subscriptions_cnt, num: true },
          { title: 'Queue', cell: (c) => c.mqueue_len, num: true, wide: true },
        ]}
      />
      <Pager meta={list.data?.meta} onPage={setPage} />
    </Page>
  );
}

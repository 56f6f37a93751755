/**
 * The Cluster page's evacuation and rebalance panel: what runs in the cluster
 * (`GET /api/v5/load_rebalance/global_status`, EMQX's shape) with a way to stop it, and, for
 * administrators, a rebalance coordinated by the node serving the page and the evacuation
 * of a node (`POST /api/v5/load_rebalance/{node}/start`, `…/evacuation/start`).
 */
import { useState } from 'preact/hooks';
import { enc, get, post } from '../api.js';
import { useAction, usePoll } from '../hooks.js';
import { Badge, ConfirmButton, ErrorNote, Field, Note, Panel, Table, value } from '../ui.js';

interface Evacuation {
  node: string;
  state: string;
  connection_eviction_rate: number;
  session_eviction_rate: number;
  stats?: { initial_connected: number; current_connected: number; initial_sessions: number; current_sessions: number };
}

interface Rebalance {
  node: string;
  state: string;
  donors: string[];
  recipients: string[];
  connection_eviction_rate: number;
  connection_goal?: number;
  donor_conn_avg?: number;
  evicted_connections?: number;
  evicted_sessions?: number;
}

interface GlobalStatus {
  evacuations: Evacuation[];
  rebalances: Rebalance[];
}

const round = (n: number | undefined) => (n === undefined ? '–' : String(Math.round(n * 10) / 10));

/** `self`: the node serving the page (it coordinates the rebalances started here); `nodes`: the running ones. */
export function RebalancePanel(props: { self: string | undefined; nodes: string[]; admin: boolean }) {
  const st = usePoll(() => get<GlobalStatus>('/api/v5/load_rebalance/global_status'), 2000);
  const act = useAction();
  const [form, setForm] = useState({ abs: '1000', rel: '1.1', rate: '500', health: '60', takeover: '60' });
  const [evacNode, setEvacNode] = useState('');
  const [redirect, setRedirect] = useState('');
  const set = (k: keyof typeof form) => (e: Parameters<typeof value>[0]) => setForm({ ...form, [k]: value(e) });
  const stop = (path: string, what: string) =>
    void act.run(async () => {
      await post(path);
      st.reload();
      return what;
    });
  const evacs = st.data?.evacuations;
  const rebs = st.data?.rebalances;
  return (
    <Panel title="Evacuation and rebalance">
      <ErrorNote error={st.error ?? act.error} />
      <Note text={act.note} />
      <h3>Rebalances</h3>
      <Table
        label="Rebalances"
        rows={rebs}
        rowKey={(r) => r.node}
        empty="No rebalance running"
        columns={[
          { title: 'Coordinator', cell: (r) => <strong>{r.node}</strong> },
          { title: 'State', cell: (r) => <Badge kind="warn">{r.state}</Badge> },
          { title: 'Donors', cell: (r) => r.donors.join(', ') },
          { title: 'Recipients', cell: (r) => r.recipients.join(', ') },
          { title: 'Connections: donors avg / goal', cell: (r) => `${round(r.donor_conn_avg)} / ${round(r.connection_goal)}` },
          { title: 'Moved', cell: (r) => `${r.evicted_connections ?? 0} connections, ${r.evicted_sessions ?? 0} sessions` },
          ...(props.admin
            ? [
                {
                  title: '',
                  cell: (r: Rebalance) => (
                    <ConfirmButton
                      label="Stop"
                      confirm={`Stop the rebalance on ${r.node}`}
                      onConfirm={() => stop(`/api/v5/load_rebalance/${enc(r.node)}/stop`, `Rebalance on ${r.node} stopped`)}
                    />
                  ),
                },
              ]
            : []),
        ]}
      />
      <h3>Evacuations</h3>
      <Table
        label="Evacuations"
        rows={evacs}
        rowKey={(e) => e.node}
        empty="No node evacuating"
        columns={[
          { title: 'Node', cell: (e) => <strong>{e.node}</strong> },
          { title: 'State', cell: (e) => <Badge kind="warn">{e.state}</Badge> },
          { title: 'Connections now / at start', cell: (e) => (e.stats ? `${e.stats.current_connected} / ${e.stats.initial_connected}` : '–') },
          { title: 'Sessions now / at start', cell: (e) => (e.stats ? `${e.stats.current_sessions} / ${e.stats.initial_sessions}` : '–') },
          { title: 'Rates (per s)', cell: (e) => `${e.connection_eviction_rate} connections, ${e.session_eviction_rate} sessions` },
          ...(props.admin
            ? [
                {
                  title: '',
                  cell: (e: Evacuation) => (
                    <ConfirmButton
                      label="Stop"
                      confirm={`Stop evacuating ${e.node}`}
                      onConfirm={() => stop(`/api/v5/load_rebalance/${enc(e.node)}/evacuation/stop`, `${e.node} takes clients again`)}
                    />
                  ),
                },
              ]
            : []),
        ]}
      />
      {props.admin && props.self && <h3>Start a rebalance, coordinated by {props.self}</h3>}
      {props.admin && props.self && (
        <form
          class="row-form"
          aria-label="Start a rebalance"
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(async () => {
              await post(`/api/v5/load_rebalance/${enc(props.self!)}/start`, {
                abs_conn_threshold: Number(form.abs),
                rel_conn_threshold: Number(form.rel),
                conn_evict_rate: Number(form.rate),
                wait_health_check: Number(form.health),
                wait_takeover: Number(form.takeover),
              });
              st.reload();
              return `Rebalance started, coordinated by ${props.self}`;
            });
          }}
        >
          <Field label="Absolute threshold" hint="connections the donors' average may stay above the others'">
            <input name="abs_conn_threshold" type="number" min="1" required value={form.abs} onInput={set('abs')} />
          </Field>
          <Field label="Relative threshold" hint="or this many times the others' average">
            <input name="rel_conn_threshold" type="number" min="1" step="0.01" required value={form.rel} onInput={set('rel')} />
          </Field>
          <Field label="Evictions per second">
            <input name="conn_evict_rate" type="number" min="1" required value={form.rate} onInput={set('rate')} />
          </Field>
          <Field label="Wait for health check (s)">
            <input name="wait_health_check" type="number" min="0" required value={form.health} onInput={set('health')} />
          </Field>
          <Field label="Wait for takeover (s)">
            <input name="wait_takeover" type="number" min="0" required value={form.takeover} onInput={set('takeover')} />
          </Field>
          <button type="submit" class="primary" disabled={act.busy}>
            Start rebalance
          </button>
        </form>
      )}
      {props.admin && <h3>Evacuate a node</h3>}
      {props.admin && (
        <form
          class="row-form"
          aria-label="Evacuate a node"
          onSubmit={(e) => {
            e.preventDefault();
            if (!evacNode) return;
            void act.run(async () => {
              await post(`/api/v5/load_rebalance/${enc(evacNode)}/evacuation/start`, redirect.trim() ? { redirect_to: redirect.trim() } : {});
              st.reload();
              return `${evacNode} is evacuating`;
            });
          }}
        >
          <Field label="Node to evacuate" hint="it refuses new clients and hands its clients and sessions to the others">
            <select name="evacuate" required value={evacNode} onChange={(e) => setEvacNode(value(e))}>
              <option value="">–</option>
              {props.nodes.map((n) => (
                <option value={n}>{n}</option>
              ))}
            </select>
          </Field>
          <Field label="Redirect to" hint="optional: host:port MQTT 5 clients are told to use">
            <input name="redirect_to" value={redirect} onInput={(e) => setRedirect(value(e))} placeholder="mqtt.example.com:1883" />
          </Field>
          <button type="submit" class="danger" disabled={act.busy || !evacNode}>
            Evacuate
          </button>
        </form>
      )}
    </Panel>
  );
}

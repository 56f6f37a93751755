/**
 * Membership as the node serving the page sees it: each node with its address and status
 * since when; join another cluster, leave, or make the cluster forget a node; evacuations
 * and rebalances with start and stop (cluster-rebalance.tsx).
 */
import { useState } from 'preact/hooks';
import { enc, get, post, request } from '../api.js';
import { useAction, usePoll } from '../hooks.js';
import { duration } from '../format.js';
import { Badge, ConfirmButton, ErrorNote, Field, Note, Page, Panel, Table, value } from '../ui.js';
import { RebalancePanel } from './cluster-rebalance.js';

interface ClusterView {
  self: string;
  discovery_strategy: string;
  left: boolean;
  members: { node: string; addr: string; status: string; since: number }[];
}

export function Cluster(props: { role: string; have: Set<string> }) {
  const admin = props.role === 'administrator';
  const view = usePoll(() => get<ClusterView>('/api/v5/cluster'), 3000);
  const act = useAction();
  const [target, setTarget] = useState('');
  const c = view.data;
  const rebalance = props.have.has('/api/v5/load_rebalance/global_status');
  return (
    <Page title="Cluster">
      <ErrorNote error={view.error ?? act.error} />
      <Note text={act.note} />
      {c && (
        <p class="muted">
          This page is served by <strong>{c.self}</strong>; discovery: <code>{c.discovery_strategy}</code>
          {c.left ? ' · this node has left its cluster' : ''}.
        </p>
      )}
      <Panel title="Members">
        <Table
          label="Members"
          rows={c?.members}
          rowKey={(m) => m.node}
          columns={[
            { title: 'Node', cell: (m) => <strong>{m.node}</strong> },
            { title: 'Address', cell: (m) => <code>{m.addr || '–'}</code>, wide: true },
            { title: 'Status', cell: (m) => <Badge kind={m.status === 'running' ? 'ok' : m.status === 'down' ? 'bad' : 'warn'}>{m.status}</Badge> },
            { title: 'Since', cell: (m) => (m.since ? `${duration(Date.now() - m.since)} ago` : '–') },
            ...(admin
              ? [
                  {
                    title: '',
                    cell: (m: ClusterView['members'][number]) =>
                      m.node === c?.self ? (
                        <ConfirmButton
                          label="Leave the cluster"
                          confirm="Leave now"
                          onConfirm={() =>
                            void act.run(async () => {
                              await request('POST', '/api/v5/cluster/leave', {});
                              view.reload();
                              return `${m.node} left its cluster`;
                            })
                          }
                        />
                      ) : (
                        <ConfirmButton
                          label="Remove"
                          confirm={`Forget ${m.node}`}
                          onConfirm={() =>
                            void act.run(async () => {
                              await request('DELETE', `/api/v5/cluster/${enc(m.node)}/force_leave`);
                              view.reload();
                              return `The cluster forgot ${m.node}`;
                            })
                          }
                        />
                      ),
                  },
                ]
              : []),
          ]}
        />
      </Panel>
      {admin && (
        <Panel title="Join">
          <form
            class="row-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(async () => {
                const r = await post<{ node: string }>('/api/v5/cluster/join', { node: target });
                view.reload();
                return `Joined ${r.node}'s cluster`;
              });
            }}
          >
            <Field label="Node to join" hint="name@host, or host:port of its cluster port; this node leaves its own cluster first">
              <input name="join" required value={target} onInput={(e) => setTarget(value(e))} placeholder="vireo@10.0.0.12" />
            </Field>
            <button type="submit" class="primary" disabled={act.busy}>
              Join
            </button>
          </form>
        </Panel>
      )}
      {rebalance && <RebalancePanel self={c?.self} nodes={c?.members.filter((m) => m.status === 'running').map((m) => m.node) ?? []} admin={admin} />}
    </Page>
  );
}

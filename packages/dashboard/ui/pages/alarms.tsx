/** Alarms of every node (on nodes that serve `/api/v5/alarms`): active, and past ones. */
import { useState } from 'preact/hooks';
import { qs, request } from '../api.js';
import { useAction, usePoll } from '../hooks.js';
import { duration, time } from '../format.js';
import { ConfirmButton, ErrorNote, Note, Page, Pager, Partial, Table, type PageMeta } from '../ui.js';

interface Alarm {
  node: string;
  name: string;
  message: string;
  details: Record<string, unknown>;
  duration: number;
  activate_at: string;
  deactivate_at?: string;
  activated: boolean;
}

export function Alarms(props: { role: string }) {
  const [active, setActive] = useState(true);
  const [page, setPage] = useState(1);
  const list = usePoll(() => request<{ data: Alarm[]; meta: PageMeta }>('GET', `/api/v5/alarms${qs({ activated: active, page, limit: 50 })}`), 5000, [active, page]);
  const act = useAction();
  return (
    <Page
      title="Alarms"
      actions={
        props.role === 'administrator' && !active ? (
          <ConfirmButton
            label="Forget past alarms"
            confirm="Forget them"
            onConfirm={() =>
              void act.run(async () => {
                await request('DELETE', '/api/v5/alarms');
                list.reload();
                return 'Past alarms forgotten';
              })
            }
          />
        ) : undefined
      }
    >
      <nav class="tabs" aria-label="Sections">
        <a href="#/alarms" aria-current={active ? 'page' : undefined} onClick={(e) => (e.preventDefault(), setActive(true), setPage(1))}>
          Active
        </a>
        <a href="#/alarms" aria-current={!active ? 'page' : undefined} onClick={(e) => (e.preventDefault(), setActive(false), setPage(1))}>
          Past
        </a>
      </nav>
      <ErrorNote error={list.error ?? act.error} />
      <Note text={act.note} />
      <Partial nodes={list.data?.meta.errors?.map((e) => e.node)} />
      <Table
        label="Alarms"
        rows={list.data?.data}
        rowKey={(a) => `${a.node}/${a.name}/${a.activate_at}`}
        empty={active ? 'No active alarm.' : 'No past alarm.'}
        columns={[
          { title: 'Alarm', cell: (a) => <strong>{a.name}</strong> },
          { title: 'Node', cell: (a) => a.node },
          { title: 'Message', cell: (a) => a.message },
          { title: 'Since', cell: (a) => time(a.activate_at), wide: true },
          { title: active ? 'For' : 'Lasted', cell: (a) => duration(a.duration) },
        ]}
      />
      <Pager meta={list.data?.meta} onPage={setPage} />
    </Page>
  );
}

/** Subscriptions, the route table (topics) and retained messages, cluster-wide. */
import { useState } from 'preact/hooks';
import { del, enc, get, qs, request } from '../api.js';
import { useAction, usePoll } from '../hooks.js';
import { bytes, time } from '../format.js';
import { Tabs } from '../tabs.js';
import { ConfirmButton, ErrorNote, Field, Note, Page, Pager, Panel, Partial, Table, value, type PageMeta } from '../ui.js';

interface Sub {
  clientid: string;
  node: string;
  topic: string;
  qos: number;
  nl: number;
  rap: number;
  rh: number;
}
interface Route {
  topic: string;
  node: string;
}
interface Retained {
  topic: string;
  msgid: string;
  qos: number;
  from_clientid: string | null;
  publish_at: string;
  payload_size: number;
  expires_at?: string | null;
}

export function Messaging(props: { tab?: string; role: string }) {
  const tab = props.tab ?? 'subscriptions';
  return (
    <Page title="Subscriptions & topics">
      <Tabs
        base="messaging"
        current={tab}
        tabs={[
          ['subscriptions', 'Subscriptions'],
          ['topics', 'Topics'],
          ['retained', 'Retained messages'],
        ]}
      />
      {tab === 'topics' ? <Topics /> : tab === 'retained' ? <RetainedList admin={props.role === 'administrator'} /> : <Subscriptions />}
    </Page>
  );
}

/** A search box whose value applies on submit; paging restarts. */
function useSearch<F extends Record<string, string>>(empty: F) {
  const [draft, setDraft] = useState(empty);
  const [applied, setApplied] = useState(empty);
  const [page, setPage] = useState(1);
  return {
    draft,
    applied,
    page,
    setPage,
    field: (k: keyof F) => ({ value: draft[k], onInput: (e: Parameters<typeof value>[0]) => setDraft({ ...draft, [k]: value(e) }) }),
    submit: (e: Event) => {
      e.preventDefault();
      setPage(1);
      setApplied(draft);
    },
  };
}

function Subscriptions() {
  const s = useSearch({ clientid: '', match_topic: '', node: '' });
  const list = usePoll(() => request<{ data: Sub[]; meta: PageMeta }>('GET', `/api/v5/subscriptions${qs({ ...s.applied, page: s.page, limit: 50 })}`), 5000, [s.applied, s.page]);
  return (
    <>
      <Panel>
        <form class="filters" role="search" onSubmit={s.submit}>
          <Field label="Client ID">
            <input name="clientid" {...s.field('clientid')} />
          </Field>
          <Field label="Matching topic" hint="subscriptions that a message on this topic reaches">
            <input name="match_topic" {...s.field('match_topic')} placeholder="sensors/7/temp" />
          </Field>
          <Field label="Node">
            <input name="node" {...s.field('node')} />
          </Field>
          <div class="filter-buttons">
            <button type="submit" class="primary">
              Search
            </button>
          </div>
        </form>
      </Panel>
      <ErrorNote error={list.error} />
      <Partial nodes={list.data?.meta.errors?.map((e) => e.node)} />
      <Table
        label="Subscriptions"
        rows={list.data?.data}
        rowKey={(x) => `${x.node}/${x.clientid}/${x.topic}`}
        columns={[
          { title: 'Client ID', cell: (x) => <a href={`#/clients/${encodeURIComponent(x.clientid)}`}>{x.clientid}</a> },
          { title: 'Topic filter', cell: (x) => <code>{x.topic}</code> },
          { title: 'QoS', cell: (x) => x.qos, num: true },
          { title: 'Node', cell: (x) => x.node, wide: true },
          { title: 'Options', cell: (x) => [x.nl ? 'no local' : '', x.rap ? 'retain as published' : '', `retain handling ${x.rh}`].filter(Boolean).join(', '), wide: true },
        ]}
      />
      <Pager meta={list.data?.meta} onPage={s.setPage} />
    </>
  );
}

function Topics() {
  const s = useSearch({ topic: '', node: '' });
  const list = usePoll(() => request<{ data: Route[]; meta: PageMeta }>('GET', `/api/v5/topics${qs({ ...s.applied, page: s.page, limit: 50 })}`), 5000, [s.applied, s.page]);
  return (
    <>
      <Panel>
        <form class="filters" role="search" onSubmit={s.submit}>
          <Field label="Topic filter (exact)">
            <input name="topic" {...s.field('topic')} />
          </Field>
          <Field label="Node">
            <input name="node" {...s.field('node')} />
          </Field>
          <div class="filter-buttons">
            <button type="submit" class="primary">
              Search
            </button>
          </div>
        </form>
      </Panel>
      <ErrorNote error={list.error} />
      <Partial nodes={list.data?.meta.errors?.map((e) => e.node)} />
      <Table
        label="Topics"
        rows={list.data?.data}
        rowKey={(x) => `${x.node}/${x.topic}`}
        columns={[
          { title: 'Topic filter', cell: (x) => <code>{x.topic}</code> },
          { title: 'Node with subscribers', cell: (x) => x.node },
        ]}
      />
      <Pager meta={list.data?.meta} onPage={s.setPage} />
    </>
  );
}

/** A payload as text when it is UTF-8, else as hex. */
function showPayload(b64: string): { text: string; binary: boolean } {
  const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(raw), binary: false };
  } catch {
    return { text: [...raw].map((b) => b.toString(16).padStart(2, '0')).join(' '), binary: true };
  }
}

function RetainedList(props: { admin: boolean }) {
  const s = useSearch({ topic: '' });
  const list = usePoll(() => request<{ data: Retained[]; meta: PageMeta }>('GET', `/api/v5/mqtt/retainer/messages${qs({ ...s.applied, page: s.page, limit: 50 })}`), 5000, [s.applied, s.page]);
  const [open, setOpen] = useState<{ topic: string; text: string; binary: boolean }>();
  const act = useAction();
  const view = (topic: string) =>
    void act.run(async () => {
      const m = await get<{ payload: string }>(`/api/v5/mqtt/retainer/message/${enc(topic)}`);
      setOpen({ topic, ...showPayload(m.payload) });
    });
  return (
    <>
      <Panel>
        <form class="filters" role="search" onSubmit={s.submit}>
          <Field label="Topic filter" hint="wildcards allowed: sensors/#">
            <input name="topic" {...s.field('topic')} />
          </Field>
          <div class="filter-buttons">
            <button type="submit" class="primary">
              Search
            </button>
          </div>
        </form>
      </Panel>
      <ErrorNote error={list.error ?? act.error} />
      <Note text={act.note} />
      {open && (
        <Panel
          title={`Payload of ${open.topic}${open.binary ? ' (binary, as hex)' : ''}`}
          actions={
            <button type="button" onClick={() => setOpen(undefined)}>
              Close
            </button>
          }
        >
          <pre class="payload" tabIndex={0}>
            {open.text}
          </pre>
        </Panel>
      )}
      <Table
        label="Retained messages"
        rows={list.data?.data}
        rowKey={(x) => x.topic}
        empty="No retained message."
        columns={[
          { title: 'Topic', cell: (x) => <code>{x.topic}</code> },
          { title: 'QoS', cell: (x) => x.qos, num: true },
          { title: 'Size', cell: (x) => bytes(x.payload_size), num: true },
          { title: 'From', cell: (x) => x.from_clientid ?? '–', wide: true },
          { title: 'Published', cell: (x) => time(x.publish_at), wide: true },
          {
            title: '',
            cell: (x) => (
              <span class="actions">
                <button type="button" aria-label={`View the payload of ${x.topic}`} onClick={() => view(x.topic)}>
                  View
                </button>
                {props.admin && (
                  <ConfirmButton
                    label="Delete"
                    confirm="Delete it"
                    onConfirm={() =>
                      void act.run(async () => {
                        await del(`/api/v5/mqtt/retainer/message/${enc(x.topic)}`);
                        if (open?.topic === x.topic) setOpen(undefined);
                        list.reload();
                        return `Deleted the retained message of ${x.topic}`;
                      })
                    }
                  />
                )}
              </span>
            ),
          },
        ]}
      />
      <Pager meta={list.data?.meta} onPage={s.setPage} />
    </>
  );
}

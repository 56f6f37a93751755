/** Diagnose: traces (start, stop, download, follow) and an MQTT client over WebSocket in the page. */
import { useEffect, useState } from 'preact/hooks';
import { authHeader, enc, get, post, request } from '../api.js';
import { useAction, usePoll } from '../hooks.js';
import { bytes, time } from '../format.js';
import { Tabs } from '../tabs.js';
import { Badge, ConfirmButton, ErrorNote, Field, Note, Page, Panel, Table, value } from '../ui.js';
import { WsClient } from './ws-client.js';

export function Diagnose(props: { tab?: string; role: string }) {
  const tab = props.tab ?? 'trace';
  return (
    <Page title="Diagnose">
      <Tabs
        base="diagnose"
        current={tab}
        tabs={[
          ['trace', 'Traces'],
          ['websocket', 'WebSocket client'],
        ]}
      />
      {tab === 'websocket' ? <WsClient /> : <Traces admin={props.role === 'administrator'} />}
    </Page>
  );
}

interface Trace {
  name: string;
  type: 'clientid' | 'topic' | 'ip_address';
  clientid?: string;
  topic?: string;
  ip_address?: string;
  file?: string;
  start_at: string;
  end_at: string;
  log_size: Record<string, number>;
  status: string;
  stop_reason: string | null;
}

function Traces(props: { admin: boolean }) {
  const list = usePoll(() => request<Trace[]>('GET', '/api/v5/trace'), 3000);
  const act = useAction();
  const [form, setForm] = useState({ name: '', type: 'clientid', value: '', minutes: '10' });
  const [follow, setFollow] = useState<{ name: string; node: string }>();
  return (
    <>
      {props.admin && (
        <Panel title="Start a trace">
          <form
            class="row-form"
            aria-label="Start a trace"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(async () => {
                await post('/api/v5/trace', { name: form.name, type: form.type, [form.type]: form.value, duration: Math.round(Number(form.minutes) * 60) });
                list.reload();
                return `Trace ${form.name} started on every node (each writes <data_dir>/trace/${form.name}.log)`;
              });
            }}
          >
            <Field label="Name">
              <input name="name" required pattern="[A-Za-z0-9_.\-]{1,64}" value={form.name} onInput={(e) => setForm({ ...form, name: value(e) })} />
            </Field>
            <Field label="Follow">
              <select name="type" value={form.type} onChange={(e) => setForm({ ...form, type: value(e) })}>
                <option value="clientid">a client ID</option>
                <option value="topic">a topic filter</option>
                <option value="ip_address">an IP address</option>
              </select>
            </Field>
            <Field label={form.type === 'clientid' ? 'Client ID' : form.type === 'topic' ? 'Topic filter' : 'IP address'}>
              <input name="value" required value={form.value} onInput={(e) => setForm({ ...form, value: value(e) })} />
            </Field>
            <Field label="Minutes">
              <input name="minutes" type="number" min={1} max={10080} required value={form.minutes} onInput={(e) => setForm({ ...form, minutes: value(e) })} />
            </Field>
            <button type="submit" class="primary" disabled={act.busy}>
              Start
            </button>
          </form>
        </Panel>
      )}
      <ErrorNote error={list.error ?? act.error} />
      <Note text={act.note} />
      <Table
        label="Traces"
        rows={list.data}
        rowKey={(t) => t.name}
        empty="No traces."
        columns={[
          { title: 'Name', cell: (t) => <strong>{t.name}</strong> },
          { title: 'Follows', cell: (t) => `${t.type} ${t[t.type] ?? ''}` },
          { title: 'Status', cell: (t) => (t.status === 'running' ? <Badge kind="ok">running</Badge> : <Badge kind="muted">{`stopped${t.stop_reason ? ` (${t.stop_reason})` : ''}`}</Badge>) },
          { title: 'Size per node', cell: (t) => Object.entries(t.log_size).map(([n, s]) => `${n}: ${bytes(s)}`).join(', '), wide: true },
          { title: 'Ends', cell: (t) => time(t.end_at), wide: true },
          {
            title: '',
            cell: (t) => (
              <span class="actions">
                <a class="button" href={`/api/v5/trace/${enc(t.name)}/download`} onClick={(e) => (e.preventDefault(), void act.run(() => download(t.name)))}>
                  Download
                </a>
                <button type="button" onClick={() => setFollow({ name: t.name, node: Object.keys(t.log_size)[0] ?? '' })}>
                  View
                </button>
                {props.admin && t.status === 'running' && (
                  <button
                    type="button"
                    onClick={() =>
                      void act.run(async () => {
                        await request('PUT', `/api/v5/trace/${enc(t.name)}/stop`);
                        list.reload();
                        return `Stopped ${t.name}`;
                      })
                    }
                  >
                    Stop
                  </button>
                )}
                {props.admin && (
                  <ConfirmButton
                    label="Delete"
                    confirm={`Forget ${t.name}`}
                    onConfirm={() =>
                      void act.run(async () => {
                        await request('DELETE', `/api/v5/trace/${enc(t.name)}`);
                        if (follow?.name === t.name) setFollow(undefined);
                        list.reload();
                      })
                    }
                  />
                )}
              </span>
            ),
          },
        ]}
      />
      {follow && <TraceLog name={follow.name} node={follow.node} nodes={Object.keys(list.data?.find((t) => t.name === follow.name)?.log_size ?? {})} onNode={(node) => setFollow({ ...follow, node })} onClose={() => setFollow(undefined)} />}
    </>
  );
}

/** Downloads the zip with the token (a plain link could not send it). */
async function download(name: string): Promise<void> {
  const res = await fetch(`/api/v5/trace/${enc(name)}/download`, { headers: authHeader() });
  if (!res.ok) throw new Error(`download failed: ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = `${name}.zip`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The tail of one node's trace file, following it as it grows. */
function TraceLog(props: { name: string; node: string; nodes: string[]; onNode: (n: string) => void; onClose: () => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  useEffect(() => {
    let position = 0;
    let live = true;
    let timer: ReturnType<typeof setTimeout>;
    setText('');
    const more = async () => {
      try {
        const r = await get<{ items: string; meta: { position: number } }>(`/api/v5/trace/${enc(props.name)}/log?node=${enc(props.node)}&position=${position}&bytes=65536`);
        if (!live) return;
        position = r.meta.position;
        // keep the last 256 kB on screen
        if (r.items) setText((t) => (t + r.items).slice(-262_144));
        setError(undefined);
      } catch (err) {
        if (live) setError(String((err as Error).message));
      }
      if (live) timer = setTimeout(more, 2000);
    };
    void more();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [props.name, props.node]);
  return (
    <Panel
      title={`Trace ${props.name}`}
      actions={
        <>
          <label class="inline">
            <span>Node</span>
            <select value={props.node} onChange={(e) => props.onNode(value(e))}>
              {props.nodes.map((n) => (
                <option value={n}>{n}</option>
              ))}
            </select>
          </label>
          <button type="button" onClick={props.onClose}>
            Close
          </button>
        </>
      }
    >
      <ErrorNote error={error} />
      <pre class="payload" tabIndex={0} aria-label="Trace lines">
        {text || 'Nothing traced yet on this node.'}
      </pre>
    </Panel>
  );
}

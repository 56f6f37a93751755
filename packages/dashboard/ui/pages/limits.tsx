/**
 * Limits: flapping detection, force shutdown, overload protection and each listener's rate
 * limits, as in force on the node serving the page (`GET /api/v5/configs/…`,
 * `GET /api/v5/listeners/{id}`). An administrator changes them here: only the fields changed
 * are sent (`PUT`), applied at once on every node; a bad value comes back as the API's 400,
 * naming the key. A viewer reads. docs/limits.md, "Changing limits while the node runs".
 */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { enc, get, put } from '../api.js';
import { useAction, usePoll } from '../hooks.js';
import { ErrorNote, Field, Note, Page, Panel, value } from '../ui.js';

type Values = Record<string, unknown>;

/** What each key means, briefly (the full story is in docs/limits.md). */
const HINTS: Record<string, string> = {
  max_count: 'CONNECTs of one client id within window_time; one more bans it',
  window_time: 'e.g. 1m',
  ban_time: 'e.g. 5m',
  max_mailbox_size: 'messages arriving while 1MB waits for the socket; 0: no limit',
  max_heap_size: 'bytes waiting for the socket, e.g. 32MB; 0: no limit',
  check_interval: 'e.g. 1s',
  event_loop_utilization: 'e.g. 98%, or disabled',
  event_loop_lag: 'e.g. 500ms, or disabled',
  heap_usage: 'e.g. 90%, or disabled',
  recover_checks: 'calm checks in a row that end an overload',
  max_conn_rate: 'new connections, e.g. 1000/s, or infinity',
  max_conn_burst: '0, or e.g. 10000/60m',
  messages_rate: 'PUBLISH per client, e.g. 1000/s, or infinity',
  messages_burst: '0, or e.g. 5000/60m',
  bytes_rate: 'PUBLISH bytes per client, e.g. 1MB/s, or infinity',
  bytes_burst: '0, or e.g. 100MB/60m',
};

/** A listener's own fields, shown but not edited here (they need a restart). */
const LISTENER_FIXED = new Set(['id', 'type', 'name', 'bind', 'running', 'max_connections']);
/** Of those, what the panel shows (its title has the id). */
const SHOWN_FIXED = new Set(['bind', 'running', 'max_connections']);

/** What the administrator typed, in the type the value had (a number stays a number when it reads as one). */
function typed(before: unknown, text: string | boolean): unknown {
  if (typeof text === 'boolean') return text;
  return typeof before === 'number' && text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
}

function Settings(props: { title: string; path: string; admin: boolean; fixed?: Set<string> }) {
  const cur = usePoll(() => get<Values>(props.path), 10_000, [props.path]);
  const act = useAction();
  // the fields being edited; the rest show the values in force
  const [draft, setDraft] = useState<Values>({});
  const data = cur.data;
  const fixed = props.fixed ?? new Set<string>();
  const keys = data ? Object.keys(data).filter((k) => !fixed.has(k)) : [];
  const edited = Object.keys(draft).length > 0;
  const label = `${props.title} settings`;
  return (
    <Panel title={props.title}>
      <ErrorNote error={cur.error ?? act.error} />
      <Note text={act.note} />
      {data && fixed.size > 0 && (
        <dl class="facts">
          {[...fixed]
            .filter((k) => k in data && SHOWN_FIXED.has(k))
            .map((k) => (
              <Fragment key={k}>
                <dt>{k}</dt>
                <dd>{String(data[k])}</dd>
              </Fragment>
            ))}
        </dl>
      )}
      {data && (
        <form
          class="row-form"
          aria-label={label}
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(async () => {
              const body = Object.fromEntries(Object.entries(draft).map(([k, v]) => [k, typed(data[k], v as string | boolean)]));
              await put(props.path, body);
              setDraft({});
              cur.reload();
              return `Saved: ${Object.keys(body).join(', ')} in force on every node`;
            });
          }}
        >
          {keys.map((k) => {
            const v = k in draft ? draft[k] : data[k];
            return typeof data[k] === 'boolean' ? (
              <label class="inline" key={k}>
                <input type="checkbox" name={k} checked={v === true} disabled={!props.admin} onChange={(e) => setDraft({ ...draft, [k]: e.currentTarget.checked })} /> {k}
              </label>
            ) : (
              <Field label={k} hint={HINTS[k]} key={k}>
                <input name={k} value={String(v)} readOnly={!props.admin} onInput={(e) => setDraft({ ...draft, [k]: value(e) })} />
              </Field>
            );
          })}
          {props.admin && (
            <div class="filter-buttons">
              <button type="submit" class="primary" disabled={act.busy || !edited}>
                Save on every node
              </button>
              <button type="button" disabled={act.busy || !edited} onClick={() => setDraft({})}>
                Discard changes
              </button>
            </div>
          )}
        </form>
      )}
    </Panel>
  );
}

export function Limits(props: { role: string }) {
  const admin = props.role === 'administrator';
  const listeners = usePoll(() => get<{ id: string }[]>('/api/v5/listeners'), 30_000);
  return (
    <Page title="Limits">
      <p class="muted">Changes apply at once on every running node and last until the cluster restarts; keep those you mean to keep in the configuration file too.</p>
      <ErrorNote error={listeners.error} />
      {listeners.data?.map((l) => (
        <Settings key={l.id} title={`Listener ${l.id}`} path={`/api/v5/listeners/${enc(l.id)}`} admin={admin} fixed={LISTENER_FIXED} />
      ))}
      <Settings title="Flapping detection" path="/api/v5/configs/flapping_detect" admin={admin} />
      <Settings title="Overload protection" path="/api/v5/configs/overload_protection" admin={admin} />
      <Settings title="Force shutdown" path="/api/v5/configs/force_shutdown" admin={admin} />
    </Page>
  );
}

/** Access control: built-in MQTT users, ACL rules, bans, API keys and dashboard users. */
import { useState } from 'preact/hooks';
import { currentSession, enc, post, qs, request } from '../api.js';
import { useAction, usePoll } from '../hooks.js';
import { time } from '../format.js';
import { Tabs } from '../tabs.js';
import { ConfirmButton, ErrorNote, Field, Note, Page, Pager, Panel, Table, value, type PageMeta } from '../ui.js';
import { ApiKeys, BuiltinUsers, DashboardUsers } from './access-users.js';
import { AclView } from './access-acl.js';

export function Access(props: { tab?: string; role: string; have: Set<string> }) {
  const tab = props.tab ?? 'bans';
  const admin = props.role === 'administrator';
  return (
    <Page title="Access control">
      <Tabs
        base="access"
        current={tab}
        tabs={[
          ['bans', 'Bans'],
          ['users', 'MQTT users'],
          ['acl', 'ACL'],
          ['api-keys', 'API keys'],
          ['dashboard-users', 'Dashboard users'],
        ]}
      />
      {tab === 'users' ? (
        <BuiltinUsers admin={admin} />
      ) : tab === 'acl' ? (
        <AclView admin={admin} have={props.have} />
      ) : tab === 'api-keys' ? (
        <ApiKeys admin={admin} />
      ) : tab === 'dashboard-users' ? (
        <DashboardUsers admin={admin} />
      ) : (
        <Bans admin={admin} />
      )}
    </Page>
  );
}

interface Ban {
  as: string;
  who: string;
  by: string;
  reason: string;
  at: string;
  until: string;
}

/** `<input type=datetime-local>` value → RFC 3339 (the browser's time zone), or infinity. */
const untilOf = (local: string) => (local ? new Date(local).toISOString() : 'infinity');

function Bans(props: { admin: boolean }) {
  const [page, setPage] = useState(1);
  const list = usePoll(() => request<{ data: Ban[]; meta: PageMeta }>('GET', `/api/v5/banned${qs({ page, limit: 50 })}`), 5000, [page]);
  const act = useAction();
  const [form, setForm] = useState({ as: 'clientid', who: '', reason: '', until: '' });
  return (
    <>
      {props.admin && (
        <Panel title="Ban">
          <form
            class="row-form"
            aria-label="Add a ban"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(async () => {
                await post('/api/v5/banned', { as: form.as, who: form.who, reason: form.reason, until: untilOf(form.until), by: `dashboard:${currentSession()?.username ?? ''}` });
                list.reload();
                const what = form.who;
                setForm({ ...form, who: '', reason: '' });
                return `Banned ${what}; clients it covers were disconnected on every node`;
              });
            }}
          >
            <Field label="Ban by">
              <select name="as" value={form.as} onChange={(e) => setForm({ ...form, as: value(e) })}>
                <option value="clientid">Client ID</option>
                <option value="username">Username</option>
                <option value="peerhost">IP address</option>
                <option value="peerhost_net">IP network (CIDR)</option>
              </select>
            </Field>
            <Field label="Who">
              <input name="who" required value={form.who} onInput={(e) => setForm({ ...form, who: value(e) })} />
            </Field>
            <Field label="Reason">
              <input name="reason" value={form.reason} onInput={(e) => setForm({ ...form, reason: value(e) })} />
            </Field>
            <Field label="Until" hint="empty: until lifted">
              <input name="until" type="datetime-local" value={form.until} onInput={(e) => setForm({ ...form, until: value(e) })} />
            </Field>
            <button type="submit" class="primary" disabled={act.busy}>
              Ban
            </button>
          </form>
        </Panel>
      )}
      <ErrorNote error={list.error ?? act.error} />
      <Note text={act.note} />
      <Table
        label="Bans"
        rows={list.data?.data}
        rowKey={(b) => `${b.as}:${b.who}`}
        empty="No bans."
        columns={[
          { title: 'By', cell: (b) => b.as },
          { title: 'Who', cell: (b) => <code>{b.who}</code> },
          { title: 'Reason', cell: (b) => b.reason || '–', wide: true },
          { title: 'Since', cell: (b) => time(b.at), wide: true },
          { title: 'Until', cell: (b) => (b.until === 'infinity' ? 'lifted by hand' : time(b.until)) },
          ...(props.admin
            ? [
                {
                  title: '',
                  cell: (b: Ban) => (
                    <ConfirmButton
                      label="Lift"
                      confirm={`Lift the ban on ${b.who}`}
                      class="plain"
                      onConfirm={() =>
                        void act.run(async () => {
                          await request('DELETE', `/api/v5/banned/${enc(b.as)}/${enc(b.who)}`);
                          list.reload();
                          return `Lifted the ban on ${b.who}`;
                        })
                      }
                    />
                  ),
                },
              ]
            : []),
        ]}
      />
      <Pager meta={list.data?.meta} onPage={setPage} />
    </>
  );
}

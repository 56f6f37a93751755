/** The account tables of Access control: MQTT users (built-in database), API keys, dashboard users. */
import { useState } from 'preact/hooks';
import { currentSession, del, enc, post, put, qs, request } from '../api.js';
import { useAction, usePoll } from '../hooks.js';
import { time } from '../format.js';
import { Badge, ConfirmButton, ErrorNote, Field, Note, Pager, Panel, Table, value, type PageMeta } from '../ui.js';

const USERS = '/api/v5/authentication/password_based:built_in_database/users';

interface MqttUser {
  user_id: string;
  is_superuser: boolean;
}

export function BuiltinUsers(props: { admin: boolean }) {
  const [page, setPage] = useState(1);
  const [like, setLike] = useState('');
  const [applied, setApplied] = useState('');
  const list = usePoll(() => request<{ data: MqttUser[]; meta: PageMeta }>('GET', `${USERS}${qs({ like_user_id: applied, page, limit: 50 })}`), 10_000, [page, applied]);
  const auth = usePoll(() => request<{ id: string; enable: boolean }[]>('GET', '/api/v5/authentication'), 30_000);
  const builtin = auth.data?.find((a) => a.id === 'password_based:built_in_database');
  const act = useAction();
  const [form, setForm] = useState({ user_id: '', password: '', is_superuser: false });
  return (
    <>
      {auth.data && auth.data.length === 0 && <p class="notice warn">No authenticator is configured: any client connects, users or not.</p>}
      {auth.data && auth.data.length > 0 && !builtin?.enable && (
        <p class="notice warn">The built-in database is not among this node's authenticators ({auth.data.map((a) => a.id).join(', ')}): the users below are kept but not checked.</p>
      )}
      {props.admin && (
        <Panel title="Add a user">
          <form
            class="row-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(async () => {
                await post(USERS, form);
                setForm({ user_id: '', password: '', is_superuser: false });
                list.reload();
                return `Added ${form.user_id}`;
              });
            }}
          >
            <Field label="User ID">
              <input name="user_id" required value={form.user_id} onInput={(e) => setForm({ ...form, user_id: value(e) })} />
            </Field>
            <Field label="Password">
              <input name="password" type="password" autoComplete="new-password" required value={form.password} onInput={(e) => setForm({ ...form, password: value(e) })} />
            </Field>
            <label class="inline">
              <input type="checkbox" checked={form.is_superuser} onChange={(e) => setForm({ ...form, is_superuser: e.currentTarget.checked })} /> Superuser
            </label>
            <button type="submit" class="primary" disabled={act.busy}>
              Add
            </button>
          </form>
        </Panel>
      )}
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(1);
          setApplied(like);
        }}
      >
        <Field label="User ID contains">
          <input value={like} onInput={(e) => setLike(value(e))} />
        </Field>
        <div class="filter-buttons">
          <button type="submit">Search</button>
        </div>
      </form>
      <ErrorNote error={list.error?.status === 404 ? 'The built-in user database is not configured on this node.' : (list.error ?? act.error)} />
      <Note text={act.note} />
      <Table
        label="MQTT users"
        rows={list.data?.data}
        rowKey={(u) => u.user_id}
        empty="No users."
        columns={[
          { title: 'User ID', cell: (u) => <code>{u.user_id}</code> },
          { title: 'Superuser', cell: (u) => (u.is_superuser ? <Badge kind="warn">superuser</Badge> : 'no') },
          ...(props.admin
            ? [
                {
                  title: '',
                  cell: (u: MqttUser) => (
                    <ConfirmButton
                      label="Delete"
                      confirm={`Delete ${u.user_id}`}
                      onConfirm={() =>
                        void act.run(async () => {
                          await del(`${USERS}/${enc(u.user_id)}`);
                          list.reload();
                          return `Deleted ${u.user_id}`;
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

interface ApiKey {
  name: string;
  api_key: string;
  desc: string;
  enable: boolean;
  role?: string;
  created_at: string;
  expired_at: string;
}

export function ApiKeys(props: { admin: boolean }) {
  const list = usePoll(() => request<ApiKey[]>('GET', '/api/v5/api_key'), 10_000);
  const act = useAction();
  const [form, setForm] = useState({ name: '', desc: '', role: 'viewer' });
  const [secret, setSecret] = useState<{ key: string; secret: string }>();
  return (
    <>
      {props.admin && (
        <Panel title="Create an API key">
          <form
            class="row-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(async () => {
                const r = await post<{ api_key: string; api_secret: string }>('/api/v5/api_key', form);
                setSecret({ key: r.api_key, secret: r.api_secret });
                setForm({ name: '', desc: '', role: 'viewer' });
                list.reload();
              });
            }}
          >
            <Field label="Name">
              <input name="name" required pattern="[A-Za-z0-9_.\-]{1,64}" value={form.name} onInput={(e) => setForm({ ...form, name: value(e) })} />
            </Field>
            <Field label="Description">
              <input name="desc" value={form.desc} onInput={(e) => setForm({ ...form, desc: value(e) })} />
            </Field>
            <Field label="Role">
              <select name="role" value={form.role} onChange={(e) => setForm({ ...form, role: value(e) })}>
                <option value="viewer">viewer (reads only)</option>
                <option value="publisher">publisher (publish only)</option>
                <option value="administrator">administrator</option>
              </select>
            </Field>
            <button type="submit" class="primary" disabled={act.busy}>
              Create
            </button>
          </form>
          {secret && (
            <p class="notice ok" role="status">
              Key <code>{secret.key}</code>, secret <code>{secret.secret}</code> — copy the secret now: it is not shown again.
            </p>
          )}
        </Panel>
      )}
      <ErrorNote error={list.error ?? act.error} />
      <Note text={act.note} />
      <Table
        label="API keys"
        rows={list.data}
        rowKey={(k) => k.name}
        empty="No API key made through the API (keys of api_key.bootstrap_file are not listed)."
        columns={[
          { title: 'Name', cell: (k) => k.name },
          { title: 'Key', cell: (k) => <code>{k.api_key}</code>, wide: true },
          { title: 'Role', cell: (k) => k.role ?? 'administrator' },
          { title: 'Enabled', cell: (k) => (k.enable ? <Badge kind="ok">enabled</Badge> : <Badge kind="muted">disabled</Badge>) },
          { title: 'Expires', cell: (k) => (k.expired_at === 'infinity' ? 'never' : time(k.expired_at)), wide: true },
          ...(props.admin
            ? [
                {
                  title: '',
                  cell: (k: ApiKey) => (
                    <span class="actions">
                      <button
                        type="button"
                        onClick={() =>
                          void act.run(async () => {
                            await put(`/api/v5/api_key/${enc(k.name)}`, { enable: !k.enable });
                            list.reload();
                          })
                        }
                      >
                        {k.enable ? 'Disable' : 'Enable'}
                      </button>
                      <ConfirmButton
                        label="Delete"
                        confirm={`Delete ${k.name}`}
                        onConfirm={() =>
                          void act.run(async () => {
                            await del(`/api/v5/api_key/${enc(k.name)}`);
                            list.reload();
                            return `Deleted ${k.name}`;
                          })
                        }
                      />
                    </span>
                  ),
                },
              ]
            : []),
        ]}
      />
    </>
  );
}

interface DashUser {
  username: string;
  role: string;
  description: string;
}

export function DashboardUsers(props: { admin: boolean }) {
  const me = currentSession()?.username ?? '';
  const list = usePoll(() => request<DashUser[]>('GET', '/api/v5/users'), 10_000);
  const act = useAction();
  const [form, setForm] = useState({ username: '', password: '', role: 'viewer', description: '' });
  const [pwd, setPwd] = useState({ old_pwd: '', new_pwd: '' });
  return (
    <>
      <Panel title="Change my password">
        <form
          class="row-form"
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(async () => {
              await post(`/api/v5/users/${enc(me)}/change_pwd`, pwd);
              setPwd({ old_pwd: '', new_pwd: '' });
              return 'Password changed';
            });
          }}
        >
          <Field label="Current password">
            <input type="password" autoComplete="current-password" required value={pwd.old_pwd} onInput={(e) => setPwd({ ...pwd, old_pwd: value(e) })} />
          </Field>
          <Field label="New password" hint="8 to 64 characters, at least two of: letters, digits, others">
            <input type="password" autoComplete="new-password" required minLength={8} maxLength={64} value={pwd.new_pwd} onInput={(e) => setPwd({ ...pwd, new_pwd: value(e) })} />
          </Field>
          <button type="submit" disabled={act.busy}>
            Change
          </button>
        </form>
      </Panel>
      {props.admin && (
        <Panel title="Add a dashboard user">
          <form
            class="row-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(async () => {
                await post('/api/v5/users', form);
                setForm({ username: '', password: '', role: 'viewer', description: '' });
                list.reload();
                return `Added ${form.username}`;
              });
            }}
          >
            <Field label="Username">
              <input name="username" required value={form.username} onInput={(e) => setForm({ ...form, username: value(e) })} />
            </Field>
            <Field label="Password">
              <input name="password" type="password" autoComplete="new-password" required minLength={8} value={form.password} onInput={(e) => setForm({ ...form, password: value(e) })} />
            </Field>
            <Field label="Role">
              <select name="role" value={form.role} onChange={(e) => setForm({ ...form, role: value(e) })}>
                <option value="viewer">viewer</option>
                <option value="administrator">administrator</option>
              </select>
            </Field>
            <Field label="Description">
              <input name="description" value={form.description} onInput={(e) => setForm({ ...form, description: value(e) })} />
            </Field>
            <button type="submit" class="primary" disabled={act.busy}>
              Add
            </button>
          </form>
        </Panel>
      )}
      <ErrorNote error={list.error ?? act.error} />
      <Note text={act.note} />
      <Table
        label="Dashboard users"
        rows={list.data}
        rowKey={(u) => u.username}
        columns={[
          { title: 'Username', cell: (u) => (u.username === me ? <strong>{u.username} (you)</strong> : u.username) },
          { title: 'Role', cell: (u) => u.role },
          { title: 'Description', cell: (u) => u.description || '–', wide: true },
          ...(props.admin
            ? [
                {
                  title: '',
                  cell: (u: DashUser) => (
                    <span class="actions">
                      <button
                        type="button"
                        onClick={() =>
                          void act.run(async () => {
                            await put(`/api/v5/users/${enc(u.username)}`, { role: u.role === 'viewer' ? 'administrator' : 'viewer', description: u.description });
                            list.reload();
                          })
                        }
                      >
                        Make {u.role === 'viewer' ? 'administrator' : 'viewer'}
                      </button>
                      {u.username !== me && (
                        <ConfirmButton
                          label="Delete"
                          confirm={`Delete ${u.username}`}
                          onConfirm={() =>
                            void act.run(async () => {
                              await del(`/api/v5/users/${enc(u.username)}`);
                              list.reload();
                              return `Deleted ${u.username}`;
                            })
                          }
                        />
                      )}
                    </span>
                  ),
                },
              ]
            : []),
        ]}
      />
    </>
  );
}

/** One client wherever it is in the cluster: its connection, session, subscriptions; kick, subscribe, unsubscribe. */
import { useState } from 'preact/hooks';
import { del, enc, get, post } from '../api.js';
import { go, useAction, usePoll } from '../hooks.js';
import { bytes, time } from '../format.js';
import { Badge, ConfirmButton, ErrorNote, Field, Note, Page, Panel, Table, value } from '../ui.js';
import { protocol, type ClientRow } from './clients.js';

interface Sub {
  topic: string;
  qos: number;
  nl: number;
  rap: number;
  rh: number;
}

export function ClientDetail(props: { clientid: string; role: string }) {
  const id = props.clientid;
  const admin = props.role === 'administrator';
  const client = usePoll(() => get<ClientRow>(`/api/v5/clients/${enc(id)}`), 3000, [id]);
  const subs = usePoll(() => get<Sub[]>(`/api/v5/clients/${enc(id)}/subscriptions`), 3000, [id]);
  const act = useAction();
  const [topic, setTopic] = useState('');
  const [qos, setQos] = useState('0');
  const c = client.data;

  const facts: [string, unknown][] = c
    ? [
        ['Status', c.connected ? <Badge kind="ok">connected</Badge> : <Badge kind="muted">disconnected</Badge>],
        ['Node', c.node],
        ['Username', c.username ?? '–'],
        ['Address', c.ip_address ? `${c.ip_address}:${c.port}` : '–'],
        ['Listener', c.listener ?? '–'],
        ['Protocol', protocol(c.proto_ver)],
        ['Keepalive', c.keepalive === null ? '–' : `${c.keepalive} s`],
        ['Clean start', c.clean_start ? 'yes' : 'no'],
        ['Session expiry', `${c.expiry_interval} s`],
        ['Session created', time(c.created_at)],
        ['Connected at', time(c.connected_at)],
        ['Inflight', `${c.inflight_cnt} / ${c.inflight_max}`],
        ['Queue', `${c.mqueue_len} / ${c.mqueue_max}`],
        ['Awaiting PUBREL', c.awaiting_rel_cnt],
        ['Bytes in / out', `${bytes(c.recv_oct)} / ${bytes(c.send_oct)}`],
      ]
    : [];

  return (
    <Page
      title={`Client ${id}`}
      actions={
        <>
          <a href="#/clients" class="button">
            ‹ All clients
          </a>
          {admin && c && (
            <ConfirmButton
              label="Kick"
              confirm="Kick this client"
              onConfirm={() =>
                void act.run(async () => {
                  await del(`/api/v5/clients/${enc(id)}`);
                  go('clients');
                })
              }
            />
          )}
        </>
      }
    >
      {client.error?.status === 404 ? <p class="notice warn">No node has a client {id} now (it left, or its session expired).</p> : <ErrorNote error={client.error} />}
      <ErrorNote error={act.error} />
      <Note text={act.note} />
      {c && (
        <Panel title="Connection and session">
          <dl class="facts">
            {facts.map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>{v as string}</dd>
              </>
            ))}
          </dl>
        </Panel>
      )}
      <Panel title="Subscriptions">
        {admin && c && (
          <form
            class="row-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(async () => {
                await post(`/api/v5/clients/${enc(id)}/subscribe`, { topic, qos: Number(qos) });
                setTopic('');
                subs.reload();
                return `Subscribed to ${topic}`;
              });
            }}
          >
            <Field label="Topic filter">
              <input name="topic" required value={topic} onInput={(e) => setTopic(value(e))} placeholder="sensors/+/temp" />
            </Field>
            <Field label="QoS">
              <select name="qos" value={qos} onChange={(e) => setQos(value(e))}>
                <option>0</option>
                <option>1</option>
                <option>2</option>
              </select>
            </Field>
            <button type="submit" class="primary" disabled={act.busy}>
              Subscribe
            </button>
          </form>
        )}
        <Table
          label="Subscriptions"
          rows={subs.data}
          rowKey={(s) => s.topic}
          empty="No subscriptions."
          columns={[
            { title: 'Topic filter', cell: (s) => <code>{s.topic}</code> },
            { title: 'QoS', cell: (s) => s.qos, num: true },
            { title: 'No local', cell: (s) => (s.nl ? 'yes' : 'no'), wide: true },
            { title: 'Retain as published', cell: (s) => (s.rap ? 'yes' : 'no'), wide: true },
            ...(admin
              ? [
                  {
                    title: '',
                    cell: (s: Sub) => (
                      <button
                        type="button"
                        aria-label={`Unsubscribe from ${s.topic}`}
                        onClick={() =>
                          void act.run(async () => {
                            await post(`/api/v5/clients/${enc(id)}/unsubscribe`, { topic: s.topic });
                            subs.reload();
                            return `Unsubscribed from ${s.topic}`;
                          })
                        }
                      >
                        Unsubscribe
                      </button>
                    ),
                  },
                ]
              : []),
          ]}
        />
      </Panel>
    </Page>
  );
}

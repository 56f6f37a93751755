/**
 * An MQTT client in the page, over the node's WebSocket listener (as EMQX's dashboard has):
 * connect, subscribe, publish, see what arrives (MQTT 5, mqtt-ws.ts).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api.js';
import { ErrorNote, Field, Panel, value } from '../ui.js';
import { MqttWs } from '../mqtt-ws.js';

interface Listener {
  id: string;
  type: string;
  bind: string;
}

interface Received {
  at: string;
  topic: string;
  qos: number;
  retain: boolean;
  payload: string;
}

/** ws[s]://<this page's host>:<the listener's port>/mqtt */
function urlOf(l: Listener | undefined): string {
  const port = l?.bind.split(':').pop() ?? '8083';
  const secure = l?.type === 'wss';
  return `${secure ? 'wss' : 'ws'}://${location.hostname}:${port}/mqtt`;
}

export function WsClient() {
  const [url, setUrl] = useState('');
  const [clientId, setClientId] = useState(() => `dashboard-${Math.random().toString(16).slice(2, 10)}`);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [state, setState] = useState<'disconnected' | 'connecting' | 'connected'>('disconnected');
  const [error, setError] = useState<string>();
  const [subTopic, setSubTopic] = useState('#');
  const [subQos, setSubQos] = useState('0');
  const [subs, setSubs] = useState<string[]>([]);
  const [pub, setPub] = useState({ topic: 'dashboard/test', payload: 'hello', qos: '0', retain: false });
  const [received, setReceived] = useState<Received[]>([]);
  const client = useRef<MqttWs | undefined>(undefined);

  useEffect(() => {
    void get<Listener[]>('/api/v5/listeners').then(
      // a page served over HTTPS may only open wss:// (mixed content): prefer the listener that fits
      (ls) => setUrl((u) => u || urlOf(ls.find((l) => l.type === (location.protocol === 'https:' ? 'wss' : 'ws')) ?? ls.find((l) => l.type === 'ws' || l.type === 'wss'))),
      () => setUrl((u) => u || urlOf(undefined)),
    );
    return () => client.current?.end();
  }, []);

  const connect = async () => {
    setError(undefined);
    setState('connecting');
    try {
      const c = await MqttWs.connect(url, { clientId, username: username || undefined, password: password || undefined });
      client.current = c;
      c.onclose = (why) => {
        setState('disconnected');
        setSubs([]);
        if (why) setError(why);
      };
      c.onmessage = (m) =>
        setReceived((r) => [{ at: new Date().toLocaleTimeString(), topic: m.topic, qos: m.qos, retain: m.retain, payload: new TextDecoder().decode(m.payload) }, ...r].slice(0, 200));
      setState('connected');
    } catch (err) {
      setError((err as Error).message);
      setState('disconnected');
    }
  };
  const fail = (err: unknown) => setError((err as Error).message);
  const connected = state === 'connected';

  return (
    <>
      <Panel title="Connection">
        <form
          class="row-form"
          aria-label="WebSocket connection"
          onSubmit={(e) => {
            e.preventDefault();
            if (state === 'disconnected') void connect();
            else client.current?.end();
          }}
        >
          <Field label="WebSocket URL">
            <input name="url" required value={url} disabled={state !== 'disconnected'} onInput={(e) => setUrl(value(e))} />
          </Field>
          <Field label="Client ID">
            <input name="clientid" required value={clientId} disabled={state !== 'disconnected'} onInput={(e) => setClientId(value(e))} />
          </Field>
          <Field label="MQTT username">
            <input name="username" value={username} disabled={state !== 'disconnected'} onInput={(e) => setUsername(value(e))} autoComplete="off" />
          </Field>
          <Field label="MQTT password">
            <input name="password" type="password" value={password} disabled={state !== 'disconnected'} onInput={(e) => setPassword(value(e))} autoComplete="off" />
          </Field>
          <button type="submit" class={connected ? '' : 'primary'} disabled={state === 'connecting'}>
            {state === 'disconnected' ? 'Connect' : state === 'connecting' ? 'Connecting…' : 'Disconnect'}
          </button>
        </form>
        <p role="status" class="muted">
          {state === 'connected' ? `Connected as ${clientId}` : state === 'connecting' ? 'Connecting…' : 'Not connected'}
        </p>
        <ErrorNote error={error} />
      </Panel>
      <div class="charts">
        <Panel title="Subscribe">
          <form
            class="row-form"
            aria-label="Subscribe"
            onSubmit={(e) => {
              e.preventDefault();
              const c = client.current;
              if (!c) return;
              const topic = subTopic;
              c.subscribe(topic, Number(subQos)).then((code) => {
                if (code >= 0x80) setError(`Subscription to ${topic} refused (reason 0x${code.toString(16)})`);
                else setSubs((s) => [...new Set([...s, topic])]);
              }, fail);
            }}
          >
            <Field label="Topic filter">
              <input name="subtopic" required value={subTopic} onInput={(e) => setSubTopic(value(e))} />
            </Field>
            <Field label="QoS">
              <select name="subqos" value={subQos} onChange={(e) => setSubQos(value(e))}>
                <option>0</option>
                <option>1</option>
                <option>2</option>
              </select>
            </Field>
            <button type="submit" disabled={!connected}>
              Subscribe
            </button>
          </form>
          <ul class="sub-list" aria-label="Subscribed">
            {subs.map((t) => (
              <li>
                <code>{t}</code>{' '}
                <button type="button" aria-label={`Unsubscribe from ${t}`} onClick={() => void client.current?.unsubscribe(t).then(() => setSubs((s) => s.filter((x) => x !== t)), fail)}>
                  Unsubscribe
                </button>
              </li>
            ))}
          </ul>
        </Panel>
        <Panel title="Publish">
          <form
            class="row-form"
            aria-label="Publish"
            onSubmit={(e) => {
              e.preventDefault();
              client.current?.publish(pub.topic, pub.payload, Number(pub.qos), pub.retain).catch(fail);
            }}
          >
            <Field label="Topic">
              <input name="pubtopic" required value={pub.topic} onInput={(e) => setPub({ ...pub, topic: value(e) })} />
            </Field>
            <Field label="QoS">
              <select name="pubqos" value={pub.qos} onChange={(e) => setPub({ ...pub, qos: value(e) })}>
                <option>0</option>
                <option>1</option>
                <option>2</option>
              </select>
            </Field>
            <label class="inline">
              <input type="checkbox" checked={pub.retain} onChange={(e) => setPub({ ...pub, retain: e.currentTarget.checked })} /> Retain
            </label>
            <Field label="Payload">
              <textarea name="payload" value={pub.payload} onInput={(e) => setPub({ ...pub, payload: value(e) })} />
            </Field>
            <button type="submit" class="primary" disabled={!connected}>
              Publish
            </button>
          </form>
        </Panel>
      </div>
      <Panel
        title={`Received (${received.length})`}
        actions={
          <button type="button" onClick={() => setReceived([])}>
            Clear
          </button>
        }
      >
        <div class="messages" role="log" aria-label="Received messages" tabIndex={0}>
          {received.length === 0 ? (
            <p class="muted">Nothing yet.</p>
          ) : (
            received.map((m) => (
              <p>
                <span class="muted">{m.at}</span> <strong>{m.topic}</strong> <span class="muted">QoS {m.qos}{m.retain ? ', retained' : ''}</span>
                <br />
                {m.payload}
              </p>
            ))
          )}
        </div>
      </Panel>
    </>
  );
}

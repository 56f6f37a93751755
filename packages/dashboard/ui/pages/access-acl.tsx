/**
 * Access control › ACL: the authorization settings and sources, and the file source's rules
 * as text. An administrator edits them here (`PUT /authorization/sources/file`: checked,
 * then written and used on every node), re-reads the file, or clears the decision cache;
 * a viewer reads.
 */
import { useState } from 'preact/hooks';
import { del, get, post, put } from '../api.js';
import { useAction, usePoll } from '../hooks.js';
import { ErrorNote, Note, Panel, value } from '../ui.js';

interface Settings {
  no_match: string;
  deny_action: string;
  cache?: { enable: boolean; max_size: number; ttl: string; in_use: boolean };
  sources: { type: string; enable: boolean; rules?: number; url?: string }[];
}

interface RuleFile {
  path?: string;
  rules: string;
}

export function AclView(props: { admin: boolean; have: Set<string> }) {
  const settings = usePoll(() => get<Settings>('/api/v5/authorization/settings'), 10_000);
  const s = settings.data;
  const hasFile = props.have.has('/api/v5/authorization/sources/file') && s?.sources.some((x) => x.type === 'file') === true;
  const file = usePoll(() => (hasFile ? get<RuleFile>('/api/v5/authorization/sources/file') : Promise.resolve(undefined)), 10_000, [hasFile]);
  const act = useAction();
  // what the administrator is typing; undefined: not edited, the file's text is shown (and polled)
  const [draft, setDraft] = useState<string>();
  const text = draft ?? file.data?.rules ?? '';
  const saved = () => {
    setDraft(undefined);
    settings.reload();
    file.reload();
  };
  return (
    <>
      <ErrorNote error={settings.error?.status === 404 ? 'Access control is not configured on this node.' : (settings.error ?? file.error ?? act.error)} />
      <Note text={act.note} />
      {s && (
        <Panel
          title="Authorization"
          actions={
            props.admin && s.cache?.in_use ? (
              <button
                type="button"
                onClick={() =>
                  void act.run(async () => {
                    await del('/api/v5/authorization/cache');
                    return "Every client's cached decisions were forgotten, on every node";
                  })
                }
              >
                Clear the cache
              </button>
            ) : undefined
          }
        >
          <dl class="facts">
            <dt>When no rule matches</dt>
            <dd>{s.no_match}</dd>
            <dt>On deny</dt>
            <dd>{s.deny_action}</dd>
            <dt>Sources</dt>
            <dd>
              {s.sources.length === 0
                ? 'none: every client may publish and subscribe to anything'
                : s.sources.map((x) => `${x.type} (${x.type === 'file' ? `${x.rules} rules` : (x.url ?? '')}${x.enable ? '' : ', off'})`).join(', then ')}
            </dd>
            {s.cache && (
              <>
                <dt>Decision cache</dt>
                <dd>{s.cache.in_use ? `${s.cache.max_size} per client for ${s.cache.ttl}` : 'not used (only with an http source)'}</dd>
              </>
            )}
          </dl>
        </Panel>
      )}
      {hasFile && file.data && (
        <Panel title="ACL rules" actions={file.data.path ? <code>{file.data.path}</code> : undefined}>
          {props.admin ? (
            <form
              aria-label="Edit the ACL rules"
              onSubmit={(e) => {
                e.preventDefault();
                void act.run(async () => {
                  await put('/api/v5/authorization/sources/file', { type: 'file', enable: true, rules: text });
                  saved();
                  return 'Saved: the new rules are in force on every node';
                });
              }}
            >
              <label class="field">
                <span>Rules (YAML: the first rule that matches decides)</span>
                <textarea name="rules" rows={Math.min(30, Math.max(8, text.split('\n').length + 1))} spellcheck={false} value={text} onInput={(e) => setDraft(value(e))} />
              </label>
              <div class="actions">
                <button type="submit" class="primary" disabled={act.busy || draft === undefined}>
                  Save on every node
                </button>
                <button type="button" disabled={act.busy || draft === undefined} onClick={() => setDraft(undefined)}>
                  Discard changes
                </button>
                <button
                  type="button"
                  disabled={act.busy}
                  onClick={() =>
                    void act.run(async () => {
                      const r = await post<{ rules: number }>('/api/v5/authorization/sources/file/reload');
                      saved();
                      return `Reloaded from the file: ${r.rules} rules in force on this node`;
                    })
                  }
                >
                  Reload the ACL file
                </button>
              </div>
            </form>
          ) : (
            <pre class="payload" aria-label="ACL rules">
              {file.data.rules}
            </pre>
          )}
        </Panel>
      )}
    </>
  );
}

/** The page's building blocks: tables, paging, fields, buttons, notices. Plain HTML elements, so the keyboard and screen readers work as usual. */
import type { ComponentChildren, TargetedEvent } from 'preact';
import { useState } from 'preact/hooks';

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{props.title}</h1>
        <div class="actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Panel(props: { title?: string; actions?: ComponentChildren; children: ComponentChildren; class?: string }) {
  return (
    <section class={`panel ${props.class ?? ''}`}>
      {(props.title || props.actions) && (
        <header class="panel-head">
          {props.title && <h2>{props.title}</h2>}
          <div class="actions">{props.actions}</div>
        </header>
      )}
      {props.children}
    </section>
  );
}

export interface Column<T> {
  title: string;
  cell: (row: T) => ComponentChildren;
  /** numbers align right */
  num?: boolean;
  /** hidden on narrow screens */
  wide?: boolean;
}

export function Table<T>(props: { rows: T[] | undefined; columns: Column<T>[]; rowKey: (row: T) => string; empty?: string; label: string }) {
  const rows = props.rows;
  return (
    <div class="table-wrap" role="region" aria-label={props.label} tabIndex={0}>
      <table>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th class={`${c.num ? 'num' : ''} ${c.wide ? 'wide' : ''}`} scope="col">
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows === undefined ? (
            <tr>
              <td colSpan={props.columns.length} class="muted">
                Loading…
              </td>
            </tr>
          ) : rows.length === 0 ? (
            <tr>
              <td colSpan={props.columns.length} class="muted">
                {props.empty ?? 'Nothing here.'}
              </td>
            </tr>
          ) : (
            rows.map((r) => (
              <tr key={props.rowKey(r)}>
                {props.columns.map((c) => (
                  <td class={`${c.num ? 'num' : ''} ${c.wide ? 'wide' : ''}`} data-label={c.title}>
                    {c.cell(r)}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

export interface PageMeta {
  page: number;
  limit: number;
  count: number;
  hasnext: boolean;
  errors?: { node: string; reason: string }[];
}

export function Pager(props: { meta: PageMeta | undefined; onPage: (p: number) => void }) {
  const m = props.meta;
  if (!m) return null;
  const pages = Math.max(1, Math.ceil(m.count / m.limit));
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={m.page <= 1} onClick={() => props.onPage(m.page - 1)}>
        ‹ Previous
      </button>
      <span>
        Page {m.page} of {pages} · {m.count.toLocaleString('en-US')} in all
      </span>
      <button type="button" disabled={!m.hasnext} onClick={() => props.onPage(m.page + 1)}>
        Next ›
      </button>
    </nav>
  );
}

/** Nodes that did not answer, named: the list is partial, not wrong. */
export function Partial(props: { nodes: string[] | undefined }) {
  if (!props.nodes || props.nodes.length === 0) return null;
  // `x-vireo-partial` names each node as `node=reason` (timeout, not_running, failed)
  const named = [...new Set(props.nodes.map((n) => n.replace(/=(\w+)$/, (_m, why: string) => ` (${why.replace(/_/g, ' ')})`)))];
  return (
    <p class="notice warn" role="status">
      No answer from {named.join(', ')}: what is shown leaves {named.length > 1 ? 'those nodes' : 'that node'} out.
    </p>
  );
}

export function ErrorNote(props: { error: { message: string; code?: string } | string | undefined }) {
  if (!props.error) return null;
  const text = typeof props.error === 'string' ? props.error : `${props.error.message}${props.error.code ? ` (${props.error.code})` : ''}`;
  return (
    <p class="notice error" role="alert">
      {text}
    </p>
  );
}

export function Note(props: { text: string | undefined }) {
  return props.text ? (
    <p class="notice ok" role="status">
      {props.text}
    </p>
  ) : null;
}

export function Field(props: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span>{props.label}</span>
      {props.children}
      {props.hint && <small>{props.hint}</small>}
    </label>
  );
}

/** A button that asks once more before doing something that cannot be undone. */
export function ConfirmButton(props: { label: string; confirm: string; onConfirm: () => void; disabled?: boolean; class?: string }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class={props.class ?? 'danger'} disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={props.confirm}>
      <button
        type="button"
        class="danger"
        autoFocus
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.confirm}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function Stat(props: { label: string; value: ComponentChildren; sub?: ComponentChildren }) {
  return (
    <div class="stat">
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      {props.sub && <div class="stat-sub">{props.sub}</div>}
    </div>
  );
}

export function Badge(props: { kind: 'ok' | 'warn' | 'bad' | 'muted'; children: ComponentChildren }) {
  return <span class={`badge ${props.kind}`}>{props.children}</span>;
}

export type InputEvent = TargetedEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, Event>;
export const value = (e: InputEvent): string => e.currentTarget.value;

/** Tabs as links (`#/page/tab`): each tab has its own URL, and the keyboard moves through them as through any links. */
export function Tabs(props: { base: string; current: string; tabs: [id: string, label: string][] }) {
  return (
    <nav class="tabs" aria-label="Sections">
      {props.tabs.map(([id, label]) => (
        <a href={`#/${props.base}/${id}`} aria-current={props.current === id ? 'page' : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}

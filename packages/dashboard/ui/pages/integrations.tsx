import { Page } from '../ui.js';

export function Integrations(_props: { have: Set<string> }) {
  return <Page title="Integrations"><p class="muted">Coming in the next slice.</p></Page>;
}

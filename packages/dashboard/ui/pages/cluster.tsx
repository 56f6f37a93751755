import { Page } from '../ui.js';

export function Cluster(_props: { role: string }) {
  return <Page title="Cluster"><p class="muted">Coming in the next slice.</p></Page>;
}

import { Page } from '../ui.js';

export function Messaging(_props: { tab?: string; role: string }) {
  return <Page title="Messaging"><p class="muted">Coming in the next slice.</p></Page>;
}

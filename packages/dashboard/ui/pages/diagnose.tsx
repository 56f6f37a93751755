import { Page } from '../ui.js';

export function Diagnose(_props: { role: string }) {
  return <Page title="Diagnose"><p class="muted">Coming in the next slice.</p></Page>;
}

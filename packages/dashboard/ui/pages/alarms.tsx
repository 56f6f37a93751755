import { Page } from '../ui.js';

export function Alarms(_props: { role: string }) {
  return <Page title="Alarms"><p class="muted">Coming in the next slice.</p></Page>;
}

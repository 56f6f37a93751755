import { Page } from '../ui.js';

export function Access(_props: { tab?: string; role: string }) {
  return <Page title="Access"><p class="muted">Coming in the next slice.</p></Page>;
}

export { Webhook } from './webhook.js';
export type { WebhookOptions, WebhookStats } from './webhook.js';
export { WEBHOOK_EVENTS } from './webhook-events.js';
export type { WebhookEvent, PayloadEncoding } from './webhook-events.js';

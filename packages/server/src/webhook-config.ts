/** Starts the webhook of `webhook.default` when its URL is set; bad values stop start-up naming the key. */
import type { Logger } from 'pino';
import { Webhook, type WebhookEvent } from '@vireo/bridge';
import type { Broker } from '@vireo/broker';
import { ConfigError } from './config-error.js';
import { WEBHOOK_EVENT_NAMES, type VireoConfig } from './config-schema.js';
import type { ConfigIssue } from './config-validate.js';
import { isHttpUrl } from './config-values.js';

export function startWebhookFor(config: VireoConfig, broker: Broker, logger: Logger): Webhook | undefined {
  const w = config.webhook.default;
  if (w.url === undefined) return undefined;
  const issues: ConfigIssue[] = [];
  if (!isHttpUrl(w.url)) issues.push({ path: 'webhook.default.url', message: `expected an http:// or https:// URL, got "${w.url}"` });
  const bad = w.events.filter((e) => !(WEBHOOK_EVENT_NAMES as readonly string[]).includes(e));
  if (bad.length) issues.push({ path: 'webhook.default.events', message: `expected events among ${WEBHOOK_EVENT_NAMES.join(', ')}, got ${bad.join(', ')}` });
  const headers: Record<string, string> = {};
  for (const h of w.headers) {
    const colon = h.indexOf(':');
    if (colon <= 0) issues.push({ path: 'webhook.default.headers', message: `expected "Name: value", got "${h}"` });
    else headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
  }
  if (issues.length) throw new ConfigError(issues);
  const hook = new Webhook(
    broker,
    {
      name: 'default',
      url: w.url,
      events: w.events as WebhookEvent[],
      topic: w.topic,
      headers,
      batchSize: w.batch_size,
      maxQueue: w.max_queue,
      maxQueueBytes: w.max_queue_bytes,
      requestTimeout: w.request_timeout,
      maxRetries: w.max_retries,
      retryBackoff: w.retry_backoff,
      payloadEncoding: w.payload_encoding,
    },
    logger,
  );
  hook.start();
  logger.info({ webhook: 'default', url: w.url, events: w.events }, 'Webhook started');
  // EMQX 5 replaced its webhook by an HTTP action behind a rule; this key keeps working
  logger.warn({ key: 'webhook.default' }, 'webhook.default is deprecated: use an http action behind a rule (SELECT * FROM "$events/…"), see docs/rules.md');
  return hook;
}

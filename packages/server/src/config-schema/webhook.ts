/**
 * `webhook`: the HTTP event sink, with EMQX's webhook field names.
 */
import { WEBHOOK_EVENTS } from '@vireo/bridge';
import { bytesize, duration, int, list, oneOf, optionalStr, str, type SchemaNode } from '../schema-dsl.js';

/** Event names a webhook can send, as the bridge package defines them. */
export const WEBHOOK_EVENT_NAMES = WEBHOOK_EVENTS;

export const webhookSchema = {
  default: {
    url: optionalStr({
      default: undefined,
      docDefault: 'none',
      description: 'URL the webhook POSTs events to (`http://` or `https://`). The webhook is on only when this is set.',
    }),
    events: list({
      default: [...WEBHOOK_EVENT_NAMES],
      item: 'string',
      description: `Events to send: ${WEBHOOK_EVENT_NAMES.map((e) => `\`${e}\``).join(', ')}. Bodies use EMQX's webhook field names (\`action\`, \`clientid\`, \`from_client_id\`, …).`,
    }),
    topic: str({
      default: '#',
      description: 'Topic filter for message and subscription events; `#` is every topic but `$`-topics.',
      check: (v) => (v.length > 0 ? undefined : 'a topic filter'),
    }),
    headers: list({
      default: [],
      item: 'string',
      description: 'Extra request headers, each `Name: value` (e.g. an `Authorization` header).',
    }),
    batch_size: int({ default: 1, min: 1, max: 10_000, description: 'Events per request: 1 sends one JSON object (as EMQX), more send a JSON array.' }),
    max_queue: int({ default: 10_000, min: 1, max: 10_000_000, description: 'Events waiting for the endpoint; when full the oldest are dropped (and counted).' }),
    max_queue_bytes: bytesize({
      default: 64 * 1024 * 1024,
      min: 0,
      max: 64 * 1024 * 1024 * 1024,
      description:
        'Bytes of JSON waiting for the endpoint (the batch in flight aside), a bound next to `max_queue`: 10 000 events carrying 1MB payloads would otherwise hold 10GB. When full the oldest events are dropped, counted in `vireo_webhook_dropped_queue_full` and logged with `reason: queue_full`; an event larger than the whole budget is dropped itself. `0` = no byte limit. 64MB, as `rule_engine.max_buffer_bytes`.',
    }),
    request_timeout: duration({ default: 5000, min: 1, max: 300_000, description: 'How long one request may take before it counts as failed.' }),
    max_retries: int({ default: 3, min: 0, max: 100, description: 'Retries of a failed request before its events are dropped.' }),
    retry_backoff: duration({ default: 500, min: 1, max: 300_000, description: 'Wait before the first retry; doubles with each further one.' }),
    payload_encoding: oneOf({ default: 'plain', values: ['plain', 'base64'], description: 'How message payloads appear in bodies.' }),
  },
} as const satisfies SchemaNode;

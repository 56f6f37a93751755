/** `/publish` and `/publish/bulk`: messages from the operator, routed like any other. */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { topicNameError, RC } from '@vireo/mqtt';
import type { Broker } from '@vireo/broker';
import { errorSchema } from './errors.js';

interface PublishBody {
  topic: string;
  payload: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  payload_encoding: 'plain' | 'base64';
  properties?: {
    payload_format_indicator?: number;
    message_expiry_interval?: number;
    content_type?: string;
    response_topic?: string;
    correlation_data?: string;
    user_properties?: Record<string, string>;
  };
}

const publishSchema = {
  type: 'object',
  required: ['topic', 'payload'],
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1 },
    payload: { type: 'string' },
    qos: { type: 'integer', minimum: 0, maximum: 2, default: 0 },
    retain: { type: 'boolean', default: false },
    payload_encoding: { type: 'string', enum: ['plain', 'base64'], default: 'plain' },
    properties: {
      type: 'object',
      additionalProperties: false,
      properties: {
        payload_format_indicator: { type: 'integer', minimum: 0, maximum: 1 },
        message_expiry_interval: { type: 'integer', minimum: 0 },
        content_type: { type: 'string' },
        response_topic: { type: 'string' },
        correlation_data: { type: 'string' },
        user_properties: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  },
} as const;

type Result = { id: string } | { reason_code: number; message: string };

function publishOne(broker: Broker, b: PublishBody): { status: number; body: Result } {
  const err = topicNameError(b.topic);
  if (err) return { status: 400, body: { reason_code: RC.TOPIC_NAME_INVALID, message: `topic: ${err}` } };
  const p = b.properties;
  const matched = broker.publishMessage({
    topic: b.topic,
    payload: Buffer.from(b.payload, b.payload_encoding === 'base64' ? 'base64' : 'utf8'),
    qos: b.qos,
    retain: b.retain,
    properties:
      p &&
      definedOnly({
        payloadFormatIndicator: p.payload_format_indicator === undefined ? undefined : p.payload_format_indicator === 1,
        messageExpiryInterval: p.message_expiry_interval,
        contentType: p.content_type,
        responseTopic: p.response_topic,
        correlationData: p.correlation_data === undefined ? undefined : Buffer.from(p.correlation_data),
        userProperties: p.user_properties,
      }),
  });
  // as EMQX: 200 with the message id when someone got it, 202 with reason 16 when nobody did
  if (matched === 0) return { status: 202, body: { reason_code: RC.NO_MATCHING_SUBSCRIBERS, message: 'no_matching_subscribers' } };
  return { status: 200, body: { id: randomBytes(16).toString('hex') } };
}

/** Drops unset properties: the encoder takes a present key as a value to write. */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function publishRoutes(app: FastifyInstance, broker: Broker): void {
  app.post<{ Body: PublishBody }>(
    '/api/v5/publish',
    { schema: { summary: 'Publish one message', tags: ['publish'], body: publishSchema, response: { 400: errorSchema } } },
    async (req, reply) => {
      const r = publishOne(broker, req.body);
      return reply.code(r.status).send(r.body);
    },
  );
  app.post<{ Body: PublishBody[] }>(
    '/api/v5/publish/bulk',
    { schema: { summary: 'Publish several messages, in order', tags: ['publish'], body: { type: 'array', minItems: 1, maxItems: 10_000, items: publishSchema } } },
    async (req) => req.body.map((b) => publishOne(broker, b).body),
  );
}

import type { FastifyReply } from 'fastify';

/** EMQX's error body: a code word and a human message. */
export const errorSchema = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

export function notFound(reply: FastifyReply, code: string, message: string): FastifyReply {
  return reply.code(404).send({ code, message });
}

export function badRequest(reply: FastifyReply, code: string, message: string): FastifyReply {
  return reply.code(400).send({ code, message });
}

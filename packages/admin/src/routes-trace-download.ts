/**
 * Reading a trace's files (EMQX's shapes): `GET /trace/{name}/download[?node=]` streams a
 * zip of every node's file (`<node>-<name>.log`), or that one node's; `GET
 * /trace/{name}/log?node=&position=&bytes=` answers a piece of one node's file, for a
 * viewer that follows it. Each node reads its own file through the admin call `trace.read`,
 * a bounded piece at a time, so a large file is never held whole.
 */
import { open } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Broker } from '@vireo/broker';
import { errorSchema, notFound } from './errors.js';
import { markPartial, nodeError, type ClusterQuery } from './cluster-query.js';
import type { NodeTrace } from './admin-ops.js';
import { ZipWriter } from './zip.js';
import { TRACE_READ_CHUNK, traceName } from './op-schemas.js';

const CHUNK = TRACE_READ_CHUNK;

interface Piece {
  /** base64 */
  data: string;
  /** where the next piece starts */
  position: number;
  eof: boolean;
}

type Op = (a: Record<string, unknown>) => unknown;

/** This node's part: a piece of its file of trace `name` (null: no such trace here). */
export function traceReadOps(broker: Broker): Record<string, Op> {
  return {
    'trace.read': async (a): Promise<Piece | null> => {
      const t = broker.tracer.list().find((x) => x.name === a.name);
      if (!t) return null;
      const position = typeof a.position === 'number' && a.position >= 0 ? a.position : 0;
      const want = Math.min(typeof a.bytes === 'number' && a.bytes > 0 ? a.bytes : CHUNK, CHUNK);
      let fh;
      try {
        fh = await open(t.file, 'r');
      } catch (err) {
        // nothing traced yet on this node: an empty file
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { data: '', position, eof: true };
        throw err;
      }
      try {
        const buf = Buffer.alloc(want);
        const { bytesRead } = await fh.read(buf, 0, want, position);
        return { data: buf.subarray(0, bytesRead).toString('base64'), position: position + bytesRead, eof: bytesRead < want };
      } finally {
        await fh.close();
      }
    },
  };
}

const nameParam = { type: 'object', required: ['name'], properties: { name: traceName } } as const;

export function traceDownloadRoutes(app: FastifyInstance, q: ClusterQuery, broker: Broker): void {
  /** The nodes that have trace `name` (all of them, or the one asked for). */
  const holders = async (name: string, node: string | undefined) => {
    const nodes = q.select(node);
    if (!nodes) return { error: `node ${node} is not a running node of the cluster` };
    const g = await q.gather<NodeTrace[]>('trace.list', null, nodes);
    const have = g.parts.filter((p) => p.value.some((t) => t.name === name)).map((p) => p.node);
    return have.length === 0 ? { error: `no trace ${name}` } : { have, errors: g.errors };
  };

  app.get<{ Params: { name: string }; Querystring: { node?: string } }>(
    '/api/v5/trace/:name/download',
    {
      schema: {
        summary: "A zip of the trace's file on every node (`<node>-<name>.log`), or on `node` only",
        tags: ['trace'],
        params: nameParam,
        querystring: { type: 'object', properties: { node: { type: 'string' } } },
        response: { 404: errorSchema },
      },
    },
    async (req, reply) => {
      const { name } = req.params;
      const h = await holders(name, req.query.node);
      if ('error' in h) return notFound(reply, 'NOT_FOUND', h.error ?? 'not found');
      markPartial(reply, h.errors);
      const out = new PassThrough();
      const zip = new ZipWriter(out);
      const pieces = async function* (node: string): AsyncGenerator<Buffer> {
        let position = 0;
        for (;;) {
          const p = await q.call<Piece | null>(node, 'trace.read', { name, position, bytes: CHUNK });
          if (!p) return;
          if (p.data) yield Buffer.from(p.data, 'base64');
          if (p.eof) return;
          position = p.position;
        }
      };
      void (async () => {
        for (const node of h.have) {
          try {
            await zip.add(`${node}-${name}.log`, pieces(node));
          } catch (err) {
            // the answer has started: the archive ends with what was read, and the log says why
            broker.logger.warn({ trace: name, on_node: node, err: nodeError(node, err).message }, "Trace download: could not read a node's file");
          }
        }
        await zip.finish();
      })().catch((err: unknown) => out.destroy(err as Error));
      return reply.type('application/x-zip').header('content-disposition', `attachment; filename=${name}.zip`).send(out);
    },
  );

  app.get<{ Params: { name: string }; Querystring: { node?: string; position: number; bytes: number } }>(
    '/api/v5/trace/:name/log',
    {
      schema: {
        summary: "A piece of the trace's file on one node (default: this one): `items` from `position`, at most `bytes`; `meta.position` is where the next piece starts",
        tags: ['trace'],
        params: nameParam,
        querystring: {
          type: 'object',
          properties: {
            node: { type: 'string' },
            position: { type: 'integer', minimum: 0, default: 0 },
            bytes: { type: 'integer', minimum: 1, maximum: CHUNK, default: 1000 },
          },
        },
        response: { 404: errorSchema, 503: errorSchema },
      },
    },
    async (req, reply) => {
      const node = req.query.node ?? q.self;
      if (!q.nodes().includes(node)) return notFound(reply, 'NOT_FOUND', `node ${node} is not a running node of the cluster`);
      let p: Piece | null;
      try {
        p = await q.call<Piece | null>(node, 'trace.read', { name: req.params.name, position: req.query.position, bytes: req.query.bytes });
      } catch (err) {
        return reply.code(503).send({ code: 'NODE_DOWN', message: nodeError(node, err).message });
      }
      if (!p) return notFound(reply, 'NOT_FOUND', `no trace ${req.params.name} on ${node}`);
      const items = Buffer.from(p.data, 'base64').toString('utf8');
      return { items, meta: { position: p.position, bytes: Buffer.byteLength(items) } };
    },
  );
}

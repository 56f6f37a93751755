/**
 * Serves the dashboard's built files (packages/dashboard) at `/` and `/assets/…`, read once
 * at start and kept gzipped in memory: a few hundred kB, no disk reads per request, nothing
 * fetched from anywhere else. The page routes by the URL's fragment (`/#/clients`), so every
 * page is `/`. Hashed asset names are cached for good; `index.html` is revalidated.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

interface Asset {
  type: string;
  body: Buffer;
  gz: Buffer | undefined;
  etag: string;
}

// the page talks to its own origin only; the in-page MQTT client to a WebSocket listener
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

function readAll(dir: string, base = dir, out = new Map<string, Asset>()): Map<string, Asset> {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) {
      readAll(file, base, out);
      continue;
    }
    const body = readFileSync(file);
    const type = TYPES[path.extname(name)] ?? 'application/octet-stream';
    const gz = /^(text|application\/json|image\/svg)/.test(type) && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined;
    out.set('/' + path.relative(base, file).split(path.sep).join('/'), { type, body, gz, etag: `"${createHash('sha1').update(body).digest('base64url')}"` });
  }
  return out;
}

/** Registers the page's routes; false (and `/` explains) when `dir` holds no build. */
export function dashboardAssetRoutes(app: FastifyInstance, dir: string | undefined): boolean {
  let assets = new Map<string, Asset>();
  try {
    if (dir) assets = readAll(dir);
  } catch {
    // not built: `/` says so below
  }
  const index = assets.get('/index.html');
  const send = (req: FastifyRequest, reply: FastifyReply, a: Asset, cache: string) => {
    reply.header('content-type', a.type).header('cache-control', cache).header('etag', a.etag).header('x-content-type-options', 'nosniff');
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    if (a.gz && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').header('vary', 'accept-encoding').send(a.gz);
    return reply.send(a.body);
  };
  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!index) return reply.code(503).type('text/plain').send('The dashboard is not built on this node: run `npm run build` (the HTTP API at /api/v5 works without it).\n');
    reply.header('content-security-policy', CSP).header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer');
    return send(req, reply, index, 'no-cache');
  };
  app.get('/', { schema: { hide: true } }, page);
  app.get('/index.html', { schema: { hide: true } }, page);
  app.get('/favicon.svg', { schema: { hide: true } }, async (req, reply) => {
    const a = assets.get('/favicon.svg');
    return a ? send(req, reply, a, 'public, max-age=86400') : reply.code(404).send();
  });
  app.get<{ Params: { '*': string } }>('/assets/*', { schema: { hide: true } }, async (req, reply) => {
    const a = assets.get('/assets/' + req.params['*']);
    if (!a) return reply.code(404).send({ code: 'NOT_FOUND', message: 'no such file' });
    return send(req, reply, a, 'public, max-age=31536000, immutable');
  });
  return index !== undefined;
}

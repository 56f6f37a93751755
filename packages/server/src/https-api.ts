/**
 * `dashboard.listeners.https`: the HTTP API (the same Fastify app, routes, keys and roles)
 * served over TLS, beside or instead of the plain listener, as EMQX's dashboard HTTPS
 * listener. The certificate files are read at start; a missing or unreadable one stops the
 * node naming its key.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AdminServer } from '@vireo/admin';
import { ConfigError } from './config-error.js';
import type { VireoConfig } from './config-schema.js';

export function httpsEnabled(cfg: VireoConfig): boolean {
  return cfg.dashboard.listeners.https.bind.port !== 0;
}

/** Reads the certificate and key now, so a bad path fails start-up before anything listens. */
export function httpsFiles(cfg: VireoConfig): { cert: Buffer; key: Buffer } {
  const o = cfg.dashboard.listeners.https.ssl_options;
  const issues: { path: string; message: string }[] = [];
  const read = (key: 'certfile' | 'keyfile'): Buffer => {
    const file = o[key];
    if (file === undefined) {
      issues.push({ path: `dashboard.listeners.https.ssl_options.${key}`, message: 'the HTTPS listener needs certfile and keyfile' });
      return Buffer.alloc(0);
    }
    try {
      return readFileSync(file);
    } catch (err) {
      issues.push({ path: `dashboard.listeners.https.ssl_options.${key}`, message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      return Buffer.alloc(0);
    }
  };
  const files = { cert: read('certfile'), key: read('keyfile') };
  if (issues.length > 0) throw new ConfigError(issues);
  return files;
}

/** Starts the HTTPS listener in front of `admin`'s routes; returns its close. */
export async function startHttpsApi(cfg: VireoConfig, files: { cert: Buffer; key: Buffer }, admin: AdminServer, logger: Logger): Promise<() => Promise<void>> {
  const { host, port } = cfg.dashboard.listeners.https.bind;
  let server: https.Server;
  try {
    server = https.createServer({ cert: files.cert, key: files.key, minVersion: 'TLSv1.2' }, (req, res) => admin.app.routing(req, res));
  } catch (err) {
    // a key that does not match the certificate, or a file that is not PEM
    throw new ConfigError([{ path: 'dashboard.listeners.https.ssl_options.certfile', message: `not a usable certificate and key: ${(err as Error).message}` }]);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`dashboard.listeners.https.bind: cannot listen on ${host}:${port} (${err.code ?? err.message})`);
  });
  const bound = (server.address() as AddressInfo).port;
  logger.info({ bind: `${host}:${bound}` }, 'HTTPS API listening');
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

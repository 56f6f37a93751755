/**
 * Reads the certificate files of a TLS listener (`ssl`, `wss`) at start-up, so that a
 * missing or unreadable file stops the node with the key that names it rather than
 * surfacing later as a handshake failure.
 */
import { readFileSync } from 'node:fs';
import type { TlsListenerOptions } from '@vireo/broker';
import type { ConfigIssue } from './config-validate.js';

export interface SslOptionsConfig {
  certfile: string | undefined;
  keyfile: string | undefined;
  cacertfile: string | undefined;
  verify: 'verify_none' | 'verify_peer';
  fail_if_no_peer_cert: boolean;
}

/** `undefined` when certfile/keyfile are unset (the listener stays off); issues when a file can't be used. */
export function readTlsFiles(prefix: string, ssl: SslOptionsConfig, issues: ConfigIssue[]): TlsListenerOptions | undefined {
  if (ssl.certfile === undefined && ssl.keyfile === undefined) return undefined;
  const read = (key: 'certfile' | 'keyfile' | 'cacertfile', required: boolean): Buffer | undefined => {
    const file = ssl[key];
    if (file === undefined) {
      if (required) issues.push({ path: `${prefix}.ssl_options.${key}`, message: 'expected a PEM file path (certfile and keyfile go together)' });
      return undefined;
    }
    try {
      return readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      issues.push({ path: `${prefix}.ssl_options.${key}`, message: `cannot read ${file} (${code})` });
      return undefined;
    }
  };
  const cert = read('certfile', true);
  const key = read('keyfile', true);
  const ca = read('cacertfile', false);
  const verifyPeer = ssl.verify === 'verify_peer';
  if (verifyPeer && !ca) {
    issues.push({ path: `${prefix}.ssl_options.cacertfile`, message: 'verify_peer needs the CA certificates client certificates are checked against' });
  }
  if (!cert || !key) return undefined;
  return { cert, key, ca, verifyPeer, failIfNoPeerCert: ssl.fail_if_no_peer_cert };
}

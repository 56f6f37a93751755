/** The TLS client certificate a connection presented (listeners with `verify: verify_peer`). */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { PeerCertAs } from '../options.js';

/** Its subject's common name, when the socket is TLS and the client sent a certificate. */
export function peerCommonName(socket: Duplex): string | undefined {
  if (!(socket instanceof tls.TLSSocket)) return undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  return typeof cn === 'string' && cn !== '' ? cn : Array.isArray(cn) ? cn[0] : undefined;
}

/**
 * EMQX's peer_cert_as_username / peer_cert_as_clientid: the subject's CN, its DN
 * (`CN=…,O=…`, most specific first as in RFC 4514), the DER certificate in base64 (`crt`), the
 * PEM text, or the MD5 of the DER in hex. Undefined without a certificate.
 */
export function peerCertValue(socket: Duplex, as: PeerCertAs): string | undefined {
  if (as === 'disabled' || !(socket instanceof tls.TLSSocket)) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.raw) return undefined;
  switch (as) {
    case 'cn':
      return peerCommonName(socket);
    case 'dn':
      return Object.entries(cert.subject ?? {})
        .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${String(x)}`))
        .reverse()
        .join(',');
    case 'crt':
      return cert.raw.toString('base64');
    case 'pem':
      return `-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
    case 'md5':
      return createHash('md5').update(cert.raw).digest('hex');
  }
}

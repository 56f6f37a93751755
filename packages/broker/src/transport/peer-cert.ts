/** The TLS client certificate a connection presented (listeners with `verify: verify_peer`). */
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

/** Its subject's common name, when the socket is TLS and the client sent a certificate. */
export function peerCommonName(socket: Duplex): string | undefined {
  if (!(socket instanceof tls.TLSSocket)) return undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  return typeof cn === 'string' && cn !== '' ? cn : Array.isArray(cn) ? cn[0] : undefined;
}

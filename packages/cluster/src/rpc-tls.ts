/**
 * mTLS for the cluster's gRPC port (`cluster.rpc.driver = ssl`): every node presents its
 * certificate and checks the other's against the cluster CA, both ways. The cookie
 * handshake still runs inside the TLS stream: TLS says "signed by our CA", the cookie says
 * "configured for this cluster".
 */
import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';

export interface RpcTls {
  /** CA certificates (PEM) every peer's certificate must chain to. */
  ca: Buffer;
  /** This node's certificate (PEM, with its chain); it must name the host peers dial. */
  cert: Buffer;
  key: Buffer;
}

export function serverCredentials(tls: RpcTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  // true: a dialer without a certificate signed by the CA is refused in the TLS handshake
  return grpc.ServerCredentials.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], true);
}

export function channelCredentials(tls: RpcTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
}

/** Whether a failed dial's reason is a TLS failure (certificate, handshake) rather than no one listening. */
export function isTlsFailure(reason: string): boolean {
  return /certificate|ssl|tls|handshake|self.signed|unable to verify|alert/i.test(reason);
}

export interface RpcListener {
  port: number;
  /** Stops accepting connections (the gRPC server's own shutdown ends those accepted). */
  close(): void;
}

/**
 * Opens the cluster port. With mTLS the TLS handshake is ours (sockets that pass it are
 * handed to gRPC as plain HTTP/2), because gRPC's own TLS server does not
 * tell the application when a handshake fails: here a peer with a certificate of another
 * CA is refused with a log line on this side too, not only on the side that dials.
 */
export async function listenRpc(server: grpc.Server, host: string, port: number, rpcTls: RpcTls | undefined, log: Logger): Promise<RpcListener> {
  const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  if (!rpcTls) {
    const bound = await new Promise<number>((resolve, reject) => server.bindAsync(addr, serverCredentials(undefined), (err, p) => (err ? reject(err) : resolve(p))));
    return { port: bound, close() {} };
  }
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const logged = new Map<string, number>();
  const tlsServer = tls.createServer({ key: rpcTls.key, cert: rpcTls.cert, ca: rpcTls.ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] }, (socket) =>
    injector.injectConnection(socket),
  );
  // after a failed handshake the TLS socket no longer knows its peer: keep the address of
  // the connection it wraps (Node's `_parent`, the only link between the two)
  const peers = new WeakMap<net.Socket, string>();
  tlsServer.on('connection', (raw: net.Socket) => peers.set(raw, `${raw.remoteAddress ?? 'unknown'}:${raw.remotePort ?? 0}`));
  tlsServer.on('tlsClientError', (err, socket) => {
    const raw = (socket as unknown as { _parent?: net.Socket })._parent;
    const peer = (raw && peers.get(raw)) ?? 'unknown';
    const ip = peer.slice(0, peer.lastIndexOf(':'));
    // once a minute per address: a refused peer dials again every few seconds
    if (Date.now() - (logged.get(ip) ?? 0) < 60_000) return;
    logged.set(ip, Date.now());
    // which side gave up is not always known here (a dialer that rejects our certificate just hangs up)
    log.error({ peer, reason: err.message }, "Refused cluster peer: TLS handshake failed (both nodes' certificates must chain to the CA in cluster.rpc.cacertfile)");
  });
  await new Promise<void>((resolve, reject) => {
    tlsServer.once('error', reject);
    tlsServer.listen({ host, port }, () => {
      tlsServer.off('error', reject);
      resolve();
    });
  });
  const a = tlsServer.address();
  return {
    port: a && typeof a === 'object' ? a.port : port,
    close() {
      tlsServer.close();
      injector.destroy();
    },
  };
}

/**
 * mTLS for the cluster's gRPC port (`cluster.rpc.driver = ssl`): every node presents its
 * certificate and checks the other's against the cluster CA, both ways. The cookie
 * handshake still runs inside the TLS stream: TLS says "signed by our CA", the cookie says
 * "configured for this cluster".
 */
import * as grpc from '@grpc/grpc-js';

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

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { listenRpc, type RpcTls } from './rpc-tls.js';
import { CHANNEL_OPTIONS } from './wire.js';
import { RAW_PEER_SERVICE, type RawServerStream } from './seal.js';

/** The gRPC port peers dial: one bidirectional `Link` stream per peer. */
export interface PeerServer {
  readonly port: number;
  /** Stops listening; open streams get up to a second to finish, then are cut. */
  close(): Promise<void>;
}

/**
 * Starts the gRPC server for the peer protocol on `host:port` (`cluster.rpc.bind`), with
 * mTLS when `tls` is set; each stream a peer opens is given to `accept`. Kept apart from
 * the links so the server's construction and limits are in one place.
 */
export async function startPeerServer(
  bind: { host: string; port: number },
  tls: RpcTls | undefined,
  log: Logger,
  accept: (call: RawServerStream) => void,
  /** The largest frame a peer may send (`cluster.rpc.max_frame_size`): grpc-js sets it per server, so it holds before the handshake too. */
  maxFrameBytes?: number,
): Promise<PeerServer> {
  const { host, port } = bind;
  const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const server = new grpc.Server(maxFrameBytes === undefined ? CHANNEL_OPTIONS : { ...CHANNEL_OPTIONS, 'grpc.max_receive_message_length': maxFrameBytes });
  server.addService(RAW_PEER_SERVICE, { Link: accept });
  let listener;
  try {
    listener = await listenRpc(server, host, port, tls, log);
  } catch (err) {
    throw new Error(`cluster.rpc.bind: cannot listen on ${addr}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const l = listener;
  return {
    port: l.port,
    async close() {
      l.close();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}

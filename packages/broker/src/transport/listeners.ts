import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readProxyHeader } from './proxy-protocol.js';
import { sharedReadSocket } from './shared-read.js';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { ListenerOptions } from '../options.js';
import { AcceptGate } from '../limits/accept-gate.js';
import type { Rate } from '../limits/rate.js';

/** A listener could not bind; the message names the config key, as operators look it up. */
export class ListenError extends Error {
  constructor(
    readonly listener: string,
    readonly host: string,
    readonly port: number,
    readonly code: string,
  ) {
    const [type, name] = listener.split(':');
    const what = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges to bind' : 'cannot be bound';
    super(`listeners.${type}.${name}.bind: port ${port} on ${host} ${what} (${code})`);
    this.name = 'ListenError';
  }
}

export type OnConnection = (socket: Duplex, peer: string, listener: ListenerOptions) => void;

/** A listener starts (`start`) or stops (`end`, with how many waited) delaying connections for `max_conn_rate` (limits/accept-gate.ts). */
export type OnConnRateEpisode = (listener: ListenerOptions, event: 'start' | 'end', delayed: number) => void;

/** Called when a TLS handshake fails (bad client certificate, not TLS at all). */
export type OnTlsError = (listener: ListenerOptions, peer: string, err: Error) => void;

function hasPeerCertificate(socket: tls.TLSSocket): boolean {
  const cert = socket.getPeerCertificate();
  return cert !== null && Object.keys(cert).length > 0;
}

function tlsServerOptions(opts: ListenerOptions): tls.TlsOptions {
  const t = opts.tls;
  if (!t) throw new Error(`listener ${opts.name}: a TLS listener needs a certificate and key`);
  return {
    cert: t.cert,
    key: t.key,
    ca: t.ca,
    // verify_peer asks for a client certificate; fail_if_no_peer_cert refuses a client without one
    requestCert: t.verifyPeer,
    rejectUnauthorized: t.verifyPeer && t.failIfNoPeerCert,
  };
}

export interface RunningListener {
  options: ListenerOptions;
  port: number;
  connections: number;
  /** Disconnects by reason (EMQX's `shutdown_count`). */
  readonly shutdownCount: Map<string, number>;
  /** Connections `max_conn_rate` made wait (0 without a limit). */
  readonly connRateLimited: number;
  /** A new `max_conn_rate` / `max_conn_burst` (null: none) for the connections accepted from now on, and those waiting. */
  setConnRate(rate: Rate | null, burst: Rate | null): void;
  close(): Promise<void>;
}

const LISTENER = Symbol('vireo.listener');
type Counted = { [LISTENER]: RunningListener };

function onRawClose(this: Counted): void {
  this[LISTENER].connections--;
}

/**
 * `maxPacketSize` bounds a WebSocket message too (one may carry several MQTT packets, hence the
 * room above it): a larger one is refused on its frame header (1009), not buffered whole.
 */
export async function startListener(
  opts: ListenerOptions,
  onConnection: OnConnection,
  maxPacketSize = 1024 * 1024,
  onTlsFailure?: OnTlsError,
  onConnRate?: OnConnRateEpisode,
): Promise<RunningListener> {
  // a failed handshake (bad or missing client certificate, plain TCP on a TLS port) is the
  // client's problem: report it, keep serving
  const onTlsError = (err: Error, socket: tls.TLSSocket) => {
    onTlsFailure?.(opts, `${socket.remoteAddress}:${socket.remotePort}`, err);
    socket.destroy();
  };
  // max_conn_rate: undefined (no limit) by default, then nothing is added per connection
  // (made when a rate is first set, here or through the HTTP API; kept after, for its count)
  const episode = onConnRate && ((event: 'start' | 'end', delayed: number) => onConnRate(opts, event, delayed));
  let gate = opts.maxConnRate ? new AcceptGate(opts.maxConnRate, opts.maxConnBurst, episode) : undefined;
  const running: RunningListener = {
    options: opts,
    port: opts.port,
    connections: 0,
    shutdownCount: new Map(),
    get connRateLimited() {
      return gate?.delayed ?? 0;
    },
    setConnRate: (rate, burst) => {
      if (gate) gate.setRate(rate, burst);
      else if (rate) gate = new AcceptGate(rate, burst, episode);
    },
    close: async () => {},
  };
  /** Hands the connection on; false when it was refused or waits for `max_conn_rate` (reads paused). `admitted`: the rate was applied before (TLS). */
  const accept = (socket: Duplex, peer: string, raw: net.Socket, admitted = false): boolean => {
    if (running.connections >= opts.maxConnections) {
      raw.destroy();
      return false;
    }
    if (opts.tls?.verifyPeer && raw instanceof tls.TLSSocket && !raw.authorized && hasPeerCertificate(raw)) {
      // verify_peer without fail_if_no_peer_cert lets clients without a certificate in, never
      // one whose certificate does not check out (node only offers all-or-nothing for that)
      onTlsFailure?.(opts, peer, new Error(`client certificate rejected: ${String(raw.authorizationError)}`));
      raw.destroy();
      return false;
    }
    running.connections++;
    (raw as unknown as Counted)[LISTENER] = running;
    raw.once('close', onRawClose);
    if (!admitted && gate !== undefined && !gate.admit(socket, () => onConnection(socket, peer, opts))) return false;
    onConnection(socket, peer, opts);
    return true;
  };
  let server: net.Server;
  if (opts.proxyProtocol && (opts.type === 'tcp' || opts.type === 'ssl')) {
    // the PROXY header comes first, before TLS: read it on the plain socket, then start TLS on it
    const secureContext = opts.type === 'ssl' ? tls.createSecureContext(tlsServerOptions(opts)) : undefined;
    server = net.createServer({ noDelay: true }, (socket) => {
      const own = `${socket.remoteAddress}:${socket.remotePort}`;
      readProxyHeader(socket, opts.proxyProtocolTimeout ?? 3000).then(
        (source) => {
          const peer = source ?? own;
          if (!secureContext) {
            // readProxyHeader paused the socket with the bytes after the header put back: the connection reads them first
            if (accept(socket, peer, socket)) socket.resume();
            return;
          }
          const t = opts.tls!;
          // max_conn_rate: the connection waits after its PROXY header, before its TLS handshake
          const g = gate;
          const handshake = () => {
            const secure = new tls.TLSSocket(socket, { isServer: true, secureContext, requestCert: t.verifyPeer, rejectUnauthorized: t.verifyPeer && t.failIfNoPeerCert });
            secure.once('secure', () => accept(secure, peer, secure, g !== undefined));
            secure.once('error', (err) => {
              onTlsFailure?.(opts, peer, err);
              secure.destroy();
            });
          };
          if (g !== undefined && running.connections + g.waiting >= opts.maxConnections) {
            socket.destroy();
            return;
          }
          if (g === undefined || g.admit(socket, handshake)) {
            handshake();
            socket.resume();
          }
        },
        (err: Error) => {
          onTlsFailure?.(opts, own, err);
          socket.destroy();
        },
      );
    });
  } else if (opts.type === 'tcp') {
    // paused on connect: the socket is rebuilt on the same handle to read into the shared buffer (shared-read.ts)
    server = net.createServer({ noDelay: true, pauseOnConnect: true }, (raw) => {
      const peer = `${raw.remoteAddress}:${raw.remotePort}`;
      const socket = sharedReadSocket(raw);
      if (socket !== undefined) accept(socket, peer, socket);
    });
  } else if (opts.type === 'ssl' && gate !== undefined) {
    // max_conn_rate on TLS: connections wait before the handshake, the costliest part of a storm
    // (a listener that starts without a rate and gets one through the HTTP API waits after it)
    const sslGate = gate;
    const secureContext = tls.createSecureContext(tlsServerOptions(opts));
    const t = opts.tls!;
    server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
      // waiting before the handshake, they are not counted yet: max_connections bounds them here
      if (running.connections + sslGate.waiting >= opts.maxConnections) {
        socket.destroy();
        return;
      }
      const peer = `${socket.remoteAddress}:${socket.remotePort}`;
      const handshake = () => {
        const secure = new tls.TLSSocket(socket, { isServer: true, secureContext, requestCert: t.verifyPeer, rejectUnauthorized: t.verifyPeer && t.failIfNoPeerCert });
        secure.once('secure', () => accept(secure, peer, secure, true));
        secure.once('error', (err) => {
          onTlsFailure?.(opts, peer, err);
          secure.destroy();
        });
      };
      if (sslGate.admit(socket, handshake)) {
        handshake();
        socket.resume();
      }
    });
  } else if (opts.type === 'ssl') {
    server = tls.createServer({ ...tlsServerOptions(opts), noDelay: true }, (socket) => {
      accept(socket, `${socket.remoteAddress}:${socket.remotePort}`, socket);
    });
    server.on('tlsClientError', onTlsError);
  } else {
    const refuse = (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('This is an MQTT over WebSocket endpoint.\n');
    };
    const httpServer = opts.type === 'wss' ? https.createServer(tlsServerOptions(opts), refuse) : http.createServer(refuse);
    if (opts.type === 'wss') {
      httpServer.on('tlsClientError', onTlsError);
    }
    // max_conn_rate on wss: connections wait before the TLS handshake, as on ssl; a plain
    // server accepts them paused and hands each to the HTTPS server when the rate allows
    const preGate = opts.type === 'wss' ? gate : undefined;
    const wss = new WebSocketServer({
      server: httpServer,
      path: opts.path ?? '/mqtt',
      // MQTT over WebSocket uses the `mqtt` subprotocol; older clients send `mqttv3.1`
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
      perMessageDeflate: false,
      maxPayload: maxPacketSize + 64 * 1024,
    });
    wss.on('connection', (ws, req) => {
      const raw = req.socket;
      raw.setNoDelay(true);
      const stream = createWebSocketStream(ws);
      accept(stream, `${raw.remoteAddress}:${raw.remotePort}`, raw, preGate !== undefined);
    });
    if (preGate !== undefined) {
      server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
        if (running.connections + preGate.waiting >= opts.maxConnections) {
          socket.destroy();
          return;
        }
        const handOn = () => void httpServer.emit('connection', socket);
        if (preGate.admit(socket, handOn)) {
          handOn();
          socket.resume();
        }
      });
    } else server = httpServer;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(opts.name, opts.host, opts.port, err.code ?? 'EUNKNOWN')));
    server.listen({ host: opts.host, port: opts.port, backlog: 4096 }, () => resolve());
  });
  const addr = server.address();
  if (addr && typeof addr === 'object') running.port = addr.port;
  running.close = () =>
    new Promise<void>((resolve) => {
      gate?.close();
      server.close(() => resolve());
    });
  return running;
}

import net from 'node:net';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { ListenerOptions } from './options.js';

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

export interface RunningListener {
  options: ListenerOptions;
  port: number;
  connections: number;
  /** Disconnects by reason (EMQX's `shutdown_count`). */
  readonly shutdownCount: Map<string, number>;
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
export async function startListener(opts: ListenerOptions, onConnection: OnConnection, maxPacketSize = 1024 * 1024): Promise<RunningListener> {
  const running: RunningListener = {
    options: opts,
    port: opts.port,
    connections: 0,
    shutdownCount: new Map(),
    close: async () => {},
  };
  const accept = (socket: Duplex, peer: string, raw: net.Socket) => {
    if (running.connections >= opts.maxConnections) {
      raw.destroy();
      return;
    }
    running.connections++;
    (raw as unknown as Counted)[LISTENER] = running;
    raw.once('close', onRawClose);
    onConnection(socket, peer, opts);
  };
  let server: net.Server;
  if (opts.type === 'tcp') {
    server = net.createServer({ noDelay: true }, (socket) => {
      accept(socket, `${socket.remoteAddress}:${socket.remotePort}`, socket);
    });
  } else {
    const httpServer = http.createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('This is an MQTT over WebSocket endpoint.\n');
    });
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
      accept(stream, `${raw.remoteAddress}:${raw.remotePort}`, raw);
    });
    server = httpServer;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(opts.name, opts.host, opts.port, err.code ?? 'EUNKNOWN')));
    server.listen({ host: opts.host, port: opts.port, backlog: 4096 }, () => resolve());
  });
  const addr = server.address();
  if (addr && typeof addr === 'object') running.port = addr.port;
  running.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return running;
}

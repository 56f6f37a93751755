import type { Duplex } from 'node:stream';
import { announcedLength, frameBytes, setParserProtocol, strictParser, type Packet, type Parser } from '@vireo/mqtt';

/** What the protocol layer gets from a connection. */
export interface ConnectionHandler {
  onPacket(packet: Packet): void;
  /** The bytes were not MQTT; `data` is the buffered frame, for the log. */
  onParseError(err: Error, data: Buffer): void;
  onPacketTooLarge(size: number): void;
  onKeepaliveTimeout(): void;
  /** Handling a packet threw: a bug, contained to this connection. */
  onHandlerError(err: unknown): void;
  onClose(reason: string): void;
}

const FRAME_LOG_BYTES = 256;
/** Up to this many queued bytes are joined into one buffer per tick. */
const JOIN_LIMIT = 64 * 1024;

/**
 * Framing and I/O of one client: parses bytes into packets, writes encoded packets with the
 * socket corked for the rest of the tick, and tracks inbound activity for keepalive.
 */
export class Connection {
  private readonly parser: Parser;
  private out: Buffer | undefined;
  private outList: Buffer[] | undefined;
  private outLen = 0;
  closed = false;
  /** Last time any byte arrived, for keepalive. */
  lastRecv = Date.now();
  bytesIn = 0;
  bytesOut = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private keepaliveMs = 0;
  private closeReason = '';
  handler!: ConnectionHandler;
  maxPacketSize: number;

  constructor(
    readonly socket: Duplex,
    readonly peer: string,
    readonly listener: string,
    maxPacketSize: number,
    /** The node's byte counters (Stats), added to per chunk read and per write. */
    private readonly totals: { bytesIn: number; bytesOut: number } = { bytesIn: 0, bytesOut: 0 },
  ) {
    this.maxPacketSize = maxPacketSize;
    this.parser = strictParser();
    // shared handlers find their connection through a symbol: no closures per connection
    (this.parser as unknown as Owned)[CONN] = this;
    (socket as unknown as Owned)[CONN] = this;
    this.parser.on('packet', onParserPacket);
    this.parser.on('error', onParserError);
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('end', onSocketEnd);
  }

  /** After CONNECT: mqtt-packet keeps the whole CONNECT as its settings; keep only what it reads. */
  setProtocolVersion(v: number): void {
    setParserProtocol(this.parser, v);
  }

  /** Called by the parser for each complete packet. */
  packet(p: Packet): void {
    if (!this.closed) this.handler.onPacket(p);
  }

  parseError(err: Error): void {
    if (!this.closed) this.handler.onParseError(err, this.pendingBytes());
  }

  socketError(err: NodeJS.ErrnoException): void {
    if (!this.closeReason) this.closeReason = errnoReason(err);
  }

  socketEnd(): void {
    if (!this.closeReason) this.closeReason = 'tcp_closed';
    this.socket.end();
  }

  onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastRecv = Date.now();
    this.bytesIn += chunk.length;
    this.totals.bytesIn += chunk.length;
    try {
      this.parser.parse(chunk);
    } catch (err) {
      // no input may take the node down: whatever threw ends this connection only
      this.handler.onHandlerError(err);
      return;
    }
    // a packet still being received whose announced length is over the limit
    const announced = announcedLength(this.parser);
    if (!this.closed && announced > this.maxPacketSize) this.handler.onPacketTooLarge(announced);
  }

  private pendingBytes(): Buffer {
    return frameBytes(this.parser, FRAME_LOG_BYTES);
  }

  /**
   * Queues bytes for the socket. Everything written in one tick leaves in one write at the
   * end of the tick: small packets are joined into one buffer (one syscall, no writev array),
   * large batches go out as they are.
   */
  write(buf: Buffer): void {
    if (this.closed) return;
    this.bytesOut += buf.length;
    this.totals.bytesOut += buf.length;
    if (this.outLen === 0) {
      this.out = buf;
      process.nextTick(flush, this);
    } else if (Array.isArray(this.outList)) this.outList.push(buf);
    else this.outList = [this.out!, buf];
    this.outLen += buf.length;
  }

  /** Sends what `write` queued in this tick. */
  flush(): void {
    const len = this.outLen;
    if (len === 0) return;
    const list = this.outList;
    const one = this.out!;
    this.out = undefined;
    this.outList = undefined;
    this.outLen = 0;
    if (this.socket.destroyed) return;
    if (list === undefined) this.socket.write(one);
    else if (len <= JOIN_LIMIT) this.socket.write(Buffer.concat(list, len));
    else {
      this.socket.cork();
      for (const b of list) this.socket.write(b);
      this.socket.uncork();
    }
  }

  /** Bytes written and not yet taken by the kernel: a slow reader shows here. */
  get backlog(): number {
    return this.socket.writableLength + this.outLen;
  }

  /** Starts keepalive: with no byte for `ms`, the handler's `onKeepaliveTimeout` runs. */
  startKeepalive(ms: number): void {
    if (ms <= 0) return;
    this.keepaliveMs = ms;
    this.keepaliveTimer = setTimeout(checkKeepalive, ms, this);
  }

  checkKeepalive(): void {
    const idle = Date.now() - this.lastRecv;
    if (idle >= this.keepaliveMs) this.handler.onKeepaliveTimeout();
    else this.keepaliveTimer = setTimeout(checkKeepalive, this.keepaliveMs - idle, this);
  }

  /** Closes after flushing what was written; `reason` is the name logged and counted. */
  close(reason: string): void {
    if (this.closed) return;
    this.closeReason = reason;
    this.closed = true;
    this.stopTimers();
    this.flush();
    this.socket.end();
    // don't let a peer that never reads hold the socket open
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.handler.onClose(reason);
  }

  onSocketClose(): void {
    this.stopTimers();
    if (this.closed) return;
    this.closed = true;
    this.handler.onClose(this.closeReason || 'tcp_closed');
  }

  private stopTimers(): void {
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }
}

const CONN = Symbol('vireo.connection');
type Owned = { [CONN]: Connection };

function flush(c: Connection): void {
  c.flush();
}
function checkKeepalive(c: Connection): void {
  c.checkKeepalive();
}
function onParserPacket(this: Owned, p: Packet): void {
  this[CONN].packet(p);
}
function onParserError(this: Owned, err: Error): void {
  this[CONN].parseError(err);
}
function onSocketData(this: Owned, chunk: Buffer): void {
  this[CONN].onData(chunk);
}
function onSocketError(this: Owned, err: NodeJS.ErrnoException): void {
  this[CONN].socketError(err);
}
function onSocketClose(this: Owned): void {
  this[CONN].onSocketClose();
}
function onSocketEnd(this: Owned): void {
  this[CONN].socketEnd();
}

function errnoReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ETIMEDOUT':
      return 'etimedout';
    case 'EINVAL':
      return 'einval';
    case 'ECONNRESET':
      return 'tcp_closed';
    case 'EPIPE':
      return 'closed';
    default:
      return err.code ? err.code.toLowerCase() : 'sock_error';
  }
}

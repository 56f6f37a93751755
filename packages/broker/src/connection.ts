import type { Duplex } from 'node:stream';
import type { Packet, Parser } from 'mqtt-packet';
import { frameBytes, strictParser } from './strict-parser.js';

/** What the protocol layer gets from a connection. */
export interface ConnectionHandler {
  onPacket(packet: Packet): void;
  /** The bytes were not MQTT; `data` is the buffered frame, for the log. */
  onParseError(err: Error, data: Buffer): void;
  onPacketTooLarge(size: number): void;
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
  private closeReason = '';
  handler!: ConnectionHandler;
  maxPacketSize: number;

  constructor(
    readonly socket: Duplex,
    readonly peer: string,
    readonly listener: string,
    maxPacketSize: number,
  ) {
    this.maxPacketSize = maxPacketSize;
    this.parser = strictParser();
    this.parser.on('packet', (p: Packet) => {
      if (!this.closed) this.handler.onPacket(p);
    });
    this.parser.on('error', (err: Error) => {
      if (!this.closed) this.handler.onParseError(err, this.pendingBytes());
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.closeReason) this.closeReason = errnoReason(err);
    });
    socket.on('close', () => this.onSocketClose());
    socket.on('end', () => {
      if (!this.closeReason) this.closeReason = 'tcp_closed';
      socket.end();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastRecv = Date.now();
    this.bytesIn += chunk.length;
    try {
      this.parser.parse(chunk);
    } catch (err) {
      // no input may take the node down: whatever threw ends this connection only
      this.handler.onHandlerError(err);
      return;
    }
    // a packet still being received whose announced length is over the limit
    const announced = (this.parser as unknown as { packet: { length: number } }).packet.length;
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

  /** Bytes waiting in the socket's write buffer: a slow reader shows here. */
  get backlog(): number {
    return this.socket.writableLength;
  }

  /** Starts keepalive: with no byte for `ms`, `onTimeout` runs. */
  startKeepalive(ms: number, onTimeout: () => void): void {
    if (ms <= 0) return;
    const check = () => {
      const idle = Date.now() - this.lastRecv;
      if (idle >= ms) onTimeout();
      else this.keepaliveTimer = setTimeout(check, ms - idle);
    };
    this.keepaliveTimer = setTimeout(check, ms);
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

  private onSocketClose(): void {
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

function flush(c: Connection): void {
  c.flush();
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

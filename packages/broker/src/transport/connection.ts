import type { Duplex } from 'node:stream';
import { FrameParser, SHARED_PAYLOAD_MIN, type FrameSink, type Packet } from '@vireo/mqtt';
import type { WriteBacklog } from '../guard/write-backlog.js';
import { isSharedRead, setReadTarget } from './shared-read.js';

/** What decides whether a packet is handled now (limits/input-limiter.ts; declared here so transport imports nothing from limits). */
export interface PacketAdmission {
  /** False: the packet is kept and handled later, in order. */
  admit(p: Packet): boolean;
  stop(): void;
}

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

/** Queued bytes are joined into one buffer up to this size; at this size they go out at once. */
const JOIN_LIMIT = 64 * 1024;
/**
 * Chunks this large are handed to the socket as they are (one writev with the joined small
 * ones around them), never copied: a large payload shared by many subscribers
 * (the PUBLISH encoder writes it apart from its header from the same size on).
 */
const GATHER_MIN = SHARED_PAYLOAD_MIN;

/**
 * Framing and I/O of one client: parses bytes into packets, coalesces the packets written to
 * it into one socket write per read or per event-loop turn (below), and tracks inbound
 * activity for keepalive.
 *
 * When bytes go out: what handling this client's own read writes back to it (the inflight
 * window refilled by its PUBACKs) leaves at the end of that read, so a round trip never waits
 * for other sockets — unless that read also sent messages on to other clients (a publisher's
 * read): then its acks follow those messages, at the end of the I/O phase, after every
 * message routed in the phase (one publisher's ack never delays another's message). A message
 * routed to a client from another client's read leaves as soon as that read is handled if it
 * is the first written to that client in this I/O phase (the common case at moderate rates:
 * it does not wait for the other sockets read in the same phase; a read that carries many
 * packets still joins what they route to one client into one write); later ones in the phase —
 * and everything written from timers or promise callbacks — wait for the end of the I/O phase
 * (`setImmediate`), when every socket that had data has been read: a subscriber that hears
 * from 1 000 publishers gets two writes per turn, not one per message. At 64 KiB queued the
 * bytes go at once. The order of the bytes of one connection is the order of `write` calls
 * (one queue per connection). So at most 64 KiB wait here; beyond that the socket's own
 * `writableLength` is the backlog (`backlog`, which QoS 0 delivery checks; QoS 1/2 are bounded
 * by the inflight window).
 */
export class Connection implements FrameSink {
  private readonly frames: FrameParser;
  private out: Buffer | undefined;
  private outList: Buffer[] | undefined;
  private outLen = 0;
  /** Packets in `out`/`outList` (force_shutdown counts packets). */
  private outPackets = 0;
  /** Queued chunks of at least GATHER_MIN bytes. */
  private outLarge = 0;
  /** `force_shutdown`: told of each flush that leaves bytes in the socket; undefined when off. */
  backlogGuard: WriteBacklog | undefined;
  /** In the list flushed at the end of the I/O phase (module-internal). */
  scheduled = false;
  /** The I/O phase (`phase`) in which this connection last had a routed packet sent at once. */
  eagerPhase = -1;
  /** In the list of publishers' acks, flushed after that one (module-internal). */
  ackScheduled = false;
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
  /** The client's messages_rate / bytes_rate (limits/); undefined without limits: one branch per packet. */
  limiter: PacketAdmission | undefined;
  /** Why reads are paused, a bit per reason (limits/read-gate.ts); 0: reading. */
  readPaused = 0;

  constructor(
    readonly socket: Duplex,
    readonly peer: string,
    readonly listener: string,
    maxPacketSize: number,
    /** The node's byte counters (Stats), added to per chunk read and per write. */
    private readonly totals: { bytesIn: number; bytesOut: number } = { bytesIn: 0, bytesOut: 0 },
  ) {
    this.maxPacketSize = maxPacketSize;
    // a plain TCP socket reads into a buffer shared by all (shared-read.ts): the parser copies what it keeps
    const shared = isSharedRead(socket);
    this.frames = new FrameParser(this, shared);
    // shared handlers find their connection through a symbol: no closures per connection
    (socket as unknown as Owned)[CONN] = this;
    if (shared) setReadTarget(socket, this);
    else socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('end', onSocketEnd);
  }

  /** After CONNECT: the frames of the message flow are decoded for this version from now on. */
  setProtocolVersion(v: number): void {
    this.frames.setProtocolVersion(v);
  }

  /** Called by the parser for each complete packet. */
  packet(p: Packet): void {
    if (this.closed) return;
    if (this.limiter !== undefined && !this.limiter.admit(p)) return;
    this.handler.onPacket(p);
  }

  /** Called by the parser when the bytes are not MQTT, with the failed frame. */
  error(err: Error, frame: Buffer): void {
    if (!this.closed) this.handler.onParseError(err, frame);
  }

  socketError(err: NodeJS.ErrnoException): void {
    if (!this.closeReason) this.closeReason = errnoReason(err);
  }

  socketEnd(): void {
    if (!this.closeReason) this.closeReason = 'tcp_closed';
    this.socket.end();
  }

  /** Bytes read; with a shared-read socket they are valid only during the call. */
  onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastRecv = Date.now();
    this.bytesIn += chunk.length;
    this.totals.bytesIn += chunk.length;
    const outer = reading;
    const outerRouted = routed;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- module state: `write` compares it with its connection
    reading = this;
    routed = false;
    try {
      this.frames.parse(chunk);
    } catch (err) {
      // no input may take the node down: whatever threw ends this connection only
      this.handler.onHandlerError(err);
      return;
    } finally {
      reading = outer;
      if (eager.length > 0) flushEager();
      if (this.outLen > 0) {
        // A read that sent messages on to other clients (a publisher's): its acks go after
        // them, at the end of the phase — the messages' latency is what counts. Any other
        // read's answers (a subscriber's PUBACKs refilling its inflight window) go now: a
        // client waiting for them should not wait for the other sockets of this turn.
        if (!(routed as boolean)) this.flush();
        else if (!this.scheduled && !this.ackScheduled) scheduleAcks(this);
      }
      routed = outerRouted;
    }
    // a packet still being received whose announced length is over the limit
    const announced = this.frames.announced;
    if (!this.closed && announced > this.maxPacketSize) this.handler.onPacketTooLarge(announced);
  }

  /**
   * Queues bytes for the socket, sent at the end of this client's read or of the I/O phase
   * (see the class comment): small packets are joined into one buffer (one syscall, no
   * writev array); chunks of GATHER_MIN bytes or more (shared payloads) are never copied.
   * `rest`: these bytes end the packet of the previous call (a payload after its header).
   */
  write(buf: Buffer, rest = false): void {
    if (this.closed) return;
    this.bytesOut += buf.length;
    this.totals.bytesOut += buf.length;
    if (reading !== this && reading !== undefined) routed = true;
    if (this.outLen === 0) {
      this.out = buf;
      if (reading !== this && !this.scheduled) {
        // what the first read of this phase routes to it goes when that read is handled
        if (reading !== undefined && this.eagerPhase !== phase) {
          this.eagerPhase = phase;
          eager.push(this);
          if (!flushPending) {
            flushPending = true;
            setImmediate(flushDue);
          }
        } else schedule(this);
      }
    } else if (Array.isArray(this.outList)) this.outList.push(buf);
    else this.outList = [this.out!, buf];
    this.outLen += buf.length;
    if (!rest) this.outPackets++;
    if (buf.length >= GATHER_MIN) this.outLarge++;
    // a large batch goes at once: waiting for the end of the turn would hold up to everything
    // routed in it (MBs), and the kernel's buffer, not ours, should show a slow reader
    if (this.outLen >= JOIN_LIMIT) this.flush();
  }

  /** Sends what `write` queued. */
  flush(): void {
    const len = this.outLen;
    if (len === 0) return;
    const list = this.outList;
    const one = this.out!;
    this.out = undefined;
    this.outList = undefined;
    this.outLen = 0;
    const packets = this.outPackets;
    this.outPackets = 0;
    const large = this.outLarge;
    this.outLarge = 0;
    if (this.socket.destroyed) return;
    if (list === undefined) this.socket.write(one);
    else if (large === 0 && len <= JOIN_LIMIT) this.socket.write(Buffer.concat(list, len));
    else gather(this.socket, list);
    const pending = this.socket.writableLength;
    if (pending > 0 && this.backlogGuard !== undefined) this.backlogGuard.flushed(len, packets, pending);
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
    // paused reads (a rate limit, a held CONNECT): the silence is ours, not the client's
    if (idle >= this.keepaliveMs && this.readPaused === 0) this.handler.onKeepaliveTimeout();
    else this.keepaliveTimer = setTimeout(checkKeepalive, idle >= this.keepaliveMs ? this.keepaliveMs : this.keepaliveMs - idle, this);
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
    if (this.limiter !== undefined) this.limiter.stop();
  }
}

const CONN = Symbol('vireo.connection');
type Owned = { [CONN]: Connection };

/**
 * A list of connections reused from phase to phase: clearing keeps its storage, where a new
 * array per phase (or `length = 0`, which V8 may trim) was garbage thousands of times a second.
 */
class ConnList {
  private items: (Connection | undefined)[] = [];
  length = 0;
  push(c: Connection): void {
    this.items[this.length++] = c;
  }
  at(i: number): Connection {
    return this.items[i]!;
  }
  clear(): void {
    for (let i = 0; i < this.length; i++) this.items[i] = undefined;
    this.length = 0;
  }
}

/** The connection whose read is being handled: its output is flushed when the read is done. */
let reading: Connection | undefined;
/** That read wrote to other connections (sent messages on). */
let routed = false;
/** Connections with output routed to them, for the end of the I/O phase. */
let due = new ConnList();
let dueSpare = new ConnList();
/** Publishers whose acks wait for the end of the I/O phase, after every routed message. */
let dueAcks = new ConnList();
let dueAcksSpare = new ConnList();
/** A flushDue is scheduled. */
let flushPending = false;
/** Connections whose first routed bytes of the phase go when the current read is handled. */
let eager = new ConnList();
let eagerSpare = new ConnList();
/** Counts I/O phases (one per flushDue): a connection goes at once once per phase. */
let phase = 0;

function flushEager(): void {
  const list = eager;
  eager = eagerSpare;
  for (let i = 0; i < list.length; i++) flushOrDestroy(list.at(i));
  list.clear();
  eagerSpare = list;
}

function schedule(c: Connection): void {
  c.scheduled = true;
  due.push(c);
  if (!flushPending) {
    flushPending = true;
    setImmediate(flushDue);
  }
}

function scheduleAcks(c: Connection): void {
  c.ackScheduled = true;
  dueAcks.push(c);
  if (!flushPending) {
    flushPending = true;
    setImmediate(flushDue);
  }
}

/**
 * End of the I/O phase: one write per connection for everything routed to it in the turn,
 * then the publishers' acks, so that no message of the turn waits behind an ack's write. A
 * connection in both lists goes with the first (the second finds nothing left); its bytes
 * keep their order either way (one queue per connection).
 */
function flushDue(): void {
  flushPending = false;
  phase++;
  // swapped, so what these flushes schedule goes in the next phase's lists
  const list = due;
  const acks = dueAcks;
  due = dueSpare;
  dueAcks = dueAcksSpare;
  for (let i = 0; i < list.length; i++) {
    const c = list.at(i);
    c.scheduled = false;
    flushOrDestroy(c);
  }
  for (let i = 0; i < acks.length; i++) {
    const c = acks.at(i);
    c.ackScheduled = false;
    flushOrDestroy(c);
  }
  list.clear();
  acks.clear();
  dueSpare = list;
  dueAcksSpare = acks;
}

function flushOrDestroy(c: Connection): void {
  try {
    c.flush();
  } catch {
    // a socket that cannot take bytes any more must not keep the others' bytes from going
    c.socket.destroy();
  }
}
/**
 * Writes a list with large chunks (or over JOIN_LIMIT) as one corked batch (one writev): each
 * run of small chunks joined into one buffer, each large chunk as it is.
 */
function gather(socket: Duplex, list: Buffer[]): void {
  socket.cork();
  let from = 0;
  let runLen = 0;
  for (let i = 0; i <= list.length; i++) {
    const b = list[i];
    if (b !== undefined && b.length < GATHER_MIN) {
      runLen += b.length;
      continue;
    }
    if (i - from === 1) socket.write(list[from]!);
    else if (i - from > 1) socket.write(Buffer.concat(list.slice(from, i), runLen));
    if (b !== undefined) socket.write(b);
    from = i + 1;
    runLen = 0;
  }
  socket.uncork();
}

function checkKeepalive(c: Connection): void {
  c.checkKeepalive();
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

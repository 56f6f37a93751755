import { isUtf8 } from 'node:buffer';
import type { Packet, Parser } from 'mqtt-packet';
import { frameBytes, setParserProtocol, strictParser } from './strict-parser.js';

/** Where a FrameParser's packets and errors go. */
export interface FrameSink {
  packet(p: Packet): void;
  /** The bytes were not MQTT; `frame` is the failed frame (at most 256 bytes), for the log. */
  error(err: Error, frame: Buffer): void;
}

const FRAME_LOG_BYTES = 256;
/** Topics up to this many bytes are remembered for the next PUBLISH (see FrameParser.lastTopic). */
const TOPIC_CACHE_BYTES = 128;
const SINK = Symbol('vireo.frame-sink');
type Owned = Parser & { [SINK]: FrameParser };

/**
 * Splits a connection's byte stream into MQTT frames and decodes the frames of the message
 * flow in place — PUBLISH without v5 properties, PUBACK/PUBREC/PUBREL/PUBCOMP with reason
 * code 0, PINGREQ — which are nearly all the packets a busy node reads. Every other frame,
 * and any of those that is not perfectly formed, is handed whole to the strict parser
 * (mqtt-packet with our checks, strict-parser.ts), which decodes it or reports the error
 * as before; it only ever sees whole frames, so the two never disagree about where a frame
 * starts. Before `setProtocolVersion` (CONNECT not handled yet) every frame goes to it.
 *
 * No copy unless a frame straddles reads: then the pieces are kept and joined once, when the
 * frame is complete. A decoded PUBLISH's payload is a view of the bytes read — unless the
 * parser is `transient`: its chunks are views of one buffer that is read into again once
 * `parse` returns (a socket reading into a shared buffer, transport/shared-read.ts in the
 * broker), so what outlives the call — a payload, the piece of an unfinished frame, a frame
 * for the strict parser — is copied. The first such piece of a chunk copies the rest of the
 * chunk once and later ones are views of that copy: one copy per read, not per message (a
 * copy per payload halved the unlimited-rate throughput), and a kept payload holds at most
 * what a Buffer of Node's own read would have.
 */
export class FrameParser {
  private readonly full: Parser;
  private version = 0;
  /** Pieces of an incomplete frame, their length, and the frame's full size (-1: header incomplete). */
  private rest: Buffer[] | undefined;
  private restLen = 0;
  private need = -1;
  /** The remaining length announced by the incomplete frame buffered (-1: none, or not known yet). */
  announced = -1;
  private failed = false;
  /** The buffer being parsed is the caller's (transient parser, first pass): copy what is kept. */
  private borrowed = false;
  /**
   * The last PUBLISH topic decoded, its length and bytes: a client that publishes to the same
   * topic again (the common case) gets the same string back — no UTF-8 decoding, checks or new
   * string, and its hash is already computed for the routing lookups. -1: none.
   */
  private lastTopic = '';
  private lastTopicLen = -1;
  private lastTopicBytes: Buffer | undefined;
  /** The copy of the borrowed chunk from `arenaFrom` on, made by the first piece kept from it. */
  private arena: Buffer | undefined;
  private arenaFrom = 0;

  constructor(
    private readonly sink: FrameSink,
    /** The chunks given to `parse` are reused after it returns (see the class comment). */
    private readonly transient = false,
  ) {
    this.full = strictParser();
    // shared handlers find their owner through a symbol: no closures per connection
    (this.full as Owned)[SINK] = this;
    this.full.on('packet', onFullPacket);
    this.full.on('error', onFullError);
  }

  /** After CONNECT: the version decides the v5 fields of the frames decoded here. */
  setProtocolVersion(v: number): void {
    this.version = v;
    setParserProtocol(this.full, v);
  }

  parse(chunk: Buffer): void {
    if (this.failed) return;
    if (this.rest === undefined) {
      this.borrowed = this.transient;
      this.frames(chunk);
      // the copy lives on in what was kept from it, not here until the next read
      this.borrowed = false;
      this.arena = undefined;
      return;
    }
    this.restLen += chunk.length;
    this.rest.push(this.transient ? Buffer.from(chunk) : chunk);
    if (this.need >= 0 && this.restLen < this.need) return;
    const joined = Buffer.concat(this.rest, this.restLen);
    this.rest = undefined;
    this.restLen = 0;
    this.borrowed = false;
    this.frames(joined);
  }

  /** Splits `buf` into frames; an unfinished last one is kept for the next chunk. */
  private frames(buf: Buffer): void {
    const len = buf.length;
    let pos = 0;
    while (pos < len && !this.failed) {
      if (!headerOk(buf[pos])) {
        // refused on its first byte, as the strict parser does (no need to wait for the rest)
        this.toFull(buf, pos, len);
        return;
      }
      // fixed header: type and flags, then the remaining length in 1..4 bytes
      let i = pos + 1;
      let remaining = 0;
      let mul = 1;
      let complete = false;
      while (i < len && i - pos <= 4) {
        const b = buf[i++];
        remaining += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - pos > 4) {
          // a fifth length byte: malformed; the strict parser says so
          this.toFull(buf, pos, len);
          return;
        }
        this.keep(buf, pos, -1, -1);
        return;
      }
      const end = i + remaining;
      if (end > len) {
        this.keep(buf, pos, end - pos, remaining);
        return;
      }
      this.announced = -1;
      if (this.version === 0 || !this.decode(buf, pos, i, end, remaining)) this.toFull(buf, pos, end);
      pos = end;
    }
  }

  private keep(buf: Buffer, pos: number, need: number, announced: number): void {
    const piece = this.borrowed ? this.owned(buf, pos, buf.length) : buf.subarray(pos);
    this.rest = [piece];
    this.restLen = piece.length;
    this.need = need;
    this.announced = announced;
  }

  /**
   * `buf[start, end)` of the borrowed chunk, in memory of its own: a view of the chunk's copy,
   * made now from `start` to the chunk's end if this is the first piece kept from it (outside
   * Node's shared pool, where a queued payload would keep unrelated 8 KiB slabs alive).
   */
  private owned(buf: Buffer, start: number, end: number): Buffer {
    let arena = this.arena;
    if (arena === undefined) {
      arena = this.arena = Buffer.allocUnsafeSlow(buf.length - start);
      buf.copy(arena, 0, start);
      this.arenaFrom = start;
    }
    return arena.subarray(start - this.arenaFrom, end - this.arenaFrom);
  }

  private toFull(buf: Buffer, start: number, end: number): void {
    // the strict parser keeps views of what it is given (payloads, binary properties)
    this.full.parse(this.borrowed ? this.owned(buf, start, end) : buf.subarray(start, end));
  }

  /** Decodes one complete frame of the message flow; false: not one of those, or not well formed. */
  private decode(buf: Buffer, start: number, body: number, end: number, remaining: number): boolean {
    const b0 = buf[start];
    switch (b0 >> 4) {
      case 3:
        return this.publish(buf, b0, body, end, remaining);
      case 4:
        return b0 === 0x40 && this.ack('puback', buf, body, remaining);
      case 5:
        return b0 === 0x50 && this.ack('pubrec', buf, body, remaining);
      case 6:
        return b0 === 0x62 && this.ack('pubrel', buf, body, remaining);
      case 7:
        return b0 === 0x70 && this.ack('pubcomp', buf, body, remaining);
      case 12:
        if (b0 !== 0xc0 || remaining !== 0) return false;
        this.sink.packet({ cmd: 'pingreq', retain: false, qos: 0, dup: false, length: 0, topic: null, payload: null } as unknown as Packet);
        return true;
      default:
        return false;
    }
  }

  private publish(buf: Buffer, b0: number, pos: number, end: number, remaining: number): boolean {
    const qos = (b0 >> 1) & 3;
    if (qos === 3 || pos + 2 > end) return false;
    const topicLen = (buf[pos] << 8) | buf[pos + 1];
    const topicEnd = pos + 2 + topicLen;
    if (topicEnd > end) return false;
    let topic: string;
    if (topicLen === this.lastTopicLen && this.sameTopic(buf, pos + 2, topicLen)) topic = this.lastTopic;
    else {
      topic = buf.toString('utf8', pos + 2, topicEnd);
      // [MQTT-1.5.3-1/2]: valid UTF-8 without U+0000 (the decoder turns bad bytes into U+FFFD)
      if (topic.includes('\u0000') || (topic.includes('\ufffd') && !isUtf8(buf.subarray(pos + 2, topicEnd)))) return false;
      if (topicLen <= TOPIC_CACHE_BYTES) {
        buf.copy((this.lastTopicBytes ??= Buffer.allocUnsafeSlow(TOPIC_CACHE_BYTES)), 0, pos + 2, topicEnd);
        this.lastTopicLen = topicLen;
        this.lastTopic = topic;
      }
    }
    pos = topicEnd;
    let messageId: number | undefined;
    if (qos > 0) {
      if (pos + 2 > end) return false;
      messageId = (buf[pos] << 8) | buf[pos + 1];
      pos += 2;
    }
    if (this.version === 5) {
      // properties: only an empty list here
      if (pos >= end || buf[pos] !== 0) return false;
      pos++;
    }
    this.sink.packet({
      cmd: 'publish',
      retain: (b0 & 1) !== 0,
      qos,
      dup: (b0 & 8) !== 0,
      length: remaining,
      topic,
      payload: this.borrowed ? this.owned(buf, pos, end) : buf.subarray(pos, end),
      messageId,
    } as unknown as Packet);
    return true;
  }

  /** The topic at `buf[at, at + len)` has the bytes of the last one decoded. */
  private sameTopic(buf: Buffer, at: number, len: number): boolean {
    const last = this.lastTopicBytes!;
    for (let i = 0; i < len; i++) if (buf[at + i] !== last[i]) return false;
    return true;
  }

  private ack(cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', buf: Buffer, pos: number, remaining: number): boolean {
    // v5 may carry a reason code and properties: here only success, with no or empty properties
    if (remaining !== 2 && !(this.version === 5 && buf[pos + 2] === 0 && (remaining === 3 || (remaining === 4 && buf[pos + 3] === 0)))) return false;
    this.sink.packet({
      cmd,
      retain: false,
      qos: 0,
      dup: false,
      length: remaining,
      topic: null,
      payload: null,
      messageId: (buf[pos] << 8) | buf[pos + 1],
      reasonCode: this.version === 5 ? 0 : undefined,
    } as unknown as Packet);
    return true;
  }

  fullPacket(p: Packet): void {
    if (!this.failed) this.sink.packet(p);
  }

  fullError(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.sink.error(err, frameBytes(this.full, FRAME_LOG_BYTES));
  }
}

/**
 * The first byte of a packet a client may send with valid flags [MQTT-2.2.2-2] (a PUBLISH
 * without QoS 3); the others are refused by the strict parser on that byte alone.
 */
function headerOk(b0: number): boolean {
  const flags = b0 & 0x0f;
  switch (b0 >> 4) {
    case 0:
      return false;
    case 3:
      return (flags & 0x06) !== 0x06;
    case 6:
    case 8:
    case 10:
      return flags === 2;
    default:
      return flags === 0;
  }
}

function onFullPacket(this: Owned, p: Packet): void {
  this[SINK].fullPacket(p);
}
function onFullError(this: Owned, err: Error): void {
  this[SINK].fullError(err);
}

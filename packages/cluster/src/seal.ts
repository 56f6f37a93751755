/**
 * Frames on the wire after the handshake: each is the plain encoded `Frame` preceded by a
 * `seal` field (number 60, so the whole is still a valid `Frame` message) holding a
 * sequence number and a MAC of the frame bytes under the direction's key: GMAC (AES-256-GCM
 * with the frame as associated data and the sequence number as the nonce, unique per key
 * since each connection derives fresh keys), several times cheaper per byte than
 * HMAC-SHA256 on the forwarding path (AES-NI/PCLMUL). The receiver takes
 * frames only in sequence with a good MAC, so nothing can be added, changed, dropped or
 * replayed on an authenticated stream, even by a relay that passed the handshake on.
 *
 * A frame bigger than `FRAGMENT_BYTES` (a routes or retained snapshot) goes as several
 * sealed fragments (`more` set on all but the last), so every gRPC message stays small and
 * the port's receive limit (`cluster.rpc.max_frame_size`) can be low before and after the
 * handshake alike.
 *
 * The gRPC method is therefore declared with raw-bytes (de)serializers here: the links
 * (outbound.ts, inbound.ts) encode, seal, open and decode frames themselves.
 */
import { createCipheriv, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { PeerService, type Frame } from './wire.js';

const link = PeerService.service.Link as grpc.MethodDefinition<Frame, Frame>;

export function encodeFrame(f: Frame): Buffer {
  return link.requestSerialize(f);
}

/** Throws on bytes that are not a Frame. */
export function decodeFrame(b: Buffer): Frame {
  return link.requestDeserialize(b);
}

const rawOut = (v: Buffer): Buffer => v;
const rawIn = (b: Buffer): Buffer => b;

/** The peer service with frames as bytes both ways. */
export const RAW_PEER_SERVICE = {
  Link: { ...link, requestSerialize: rawOut, requestDeserialize: rawIn, responseSerialize: rawOut, responseDeserialize: rawIn },
} as unknown as grpc.ServiceDefinition;

export type RawClientStream = grpc.ClientDuplexStream<Buffer, Buffer>;
export type RawServerStream = grpc.ServerDuplexStream<Buffer, Buffer>;
export type RawPeerClient = grpc.Client & { Link(): RawClientStream };
export const RawPeerClient = grpc.makeGenericClientConstructor(RAW_PEER_SERVICE, 'vireo.cluster.Peer') as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => RawPeerClient;

// field 60, wire type 2 (length-delimited): varint 482
const TAG = [0xe2, 0x03];
const MAC_LEN = 16;
/** The most frame bytes in one sealed message; larger frames are fragmented. */
export const FRAGMENT_BYTES = 256 * 1024;
/** Room for the seal itself in a message. */
export const SEAL_OVERHEAD = 64;
/** The largest frame reassembled from fragments (a peer that proved the cookie, but still bounded). */
const MAX_ASSEMBLED = 1024 * 1024 * 1024;

function varint(n: number, out: number[]): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

function readVarint(b: Buffer, at: number): [value: number, next: number] | undefined {
  let v = 0;
  let mul = 1;
  for (let i = at; i < b.length && i < at + 8; i++) {
    v += (b[i]! & 0x7f) * mul;
    if ((b[i]! & 0x80) === 0) return [v, i + 1];
    mul *= 0x80;
  }
  return undefined;
}

function tag(key: Buffer, seq: number, more: boolean, body: Buffer): Buffer {
  // the nonce: the fragment flag and the sequence number, never repeated under one key
  const iv = Buffer.alloc(12);
  iv[3] = more ? 1 : 0;
  iv.writeBigUInt64BE(BigInt(seq), 4);
  const gmac = createCipheriv('aes-256-gcm', key, iv);
  gmac.setAAD(body);
  gmac.final();
  return gmac.getAuthTag();
}

export function isSealed(b: Buffer): boolean {
  return b.length > 2 && b[0] === TAG[0] && b[1] === TAG[1];
}

/** Seals one direction's frames. */
export class Sealer {
  private seq = 0;
  constructor(private readonly key: Buffer) {}

  /** The messages to write for `f`, in order: one, or its fragments. */
  seal(f: Frame): Buffer[] {
    const body = encodeFrame(f);
    if (body.length <= FRAGMENT_BYTES) return [this.piece(body, false)];
    const out: Buffer[] = [];
    for (let at = 0; at < body.length; at += FRAGMENT_BYTES) {
      const end = Math.min(at + FRAGMENT_BYTES, body.length);
      out.push(this.piece(body.subarray(at, end), end < body.length));
    }
    return out;
  }

  private piece(body: Buffer, more: boolean): Buffer {
    const seq = ++this.seq;
    const inner: number[] = [0x08];
    varint(seq, inner);
    inner.push(0x12, MAC_LEN);
    const trailer = more ? [0x18, 0x01] : [];
    const head: number[] = [...TAG];
    varint(inner.length + MAC_LEN + trailer.length, head);
    head.push(...inner);
    return Buffer.concat([Buffer.from(head), tag(this.key, seq, more, body), Buffer.from(trailer), body]);
  }
}

/** Opens the other direction's frames: in sequence, with a good MAC, or not at all. */
export class Opener {
  private seq = 0;
  private parts: Buffer[] = [];
  private partBytes = 0;
  constructor(private readonly key: Buffer) {}

  /** The frame; undefined after a fragment (more follow); or why it was refused. */
  open(b: Buffer): Frame | string | undefined {
    if (!isSealed(b)) return 'an unsealed frame after the handshake';
    const len = readVarint(b, 2);
    if (!len) return 'a malformed seal';
    const [sealLen, start] = len;
    const end = start + sealLen;
    if (b[start] !== 0x08) return 'a malformed seal';
    const sv = readVarint(b, start + 1);
    if (!sv) return 'a malformed seal';
    const [seq, at] = sv;
    if (b[at] !== 0x12 || b[at + 1] !== MAC_LEN || end > b.length) return 'a malformed seal';
    const macEnd = at + 2 + MAC_LEN;
    const more = macEnd + 2 === end && b[macEnd] === 0x18 && b[macEnd + 1] === 0x01;
    if (!more && macEnd !== end) return 'a malformed seal';
    const mac = b.subarray(at + 2, macEnd);
    const body = b.subarray(end);
    if (!timingSafeEqual(mac, tag(this.key, seq, more, body))) return 'a frame that failed its MAC';
    if (seq !== this.seq + 1) return `a frame out of sequence (${seq} after ${this.seq}: replayed or dropped)`;
    this.seq = seq;
    if (more || this.parts.length > 0) {
      this.partBytes += body.length;
      if (this.partBytes > MAX_ASSEMBLED) return 'a fragmented frame over 1 GiB';
      this.parts.push(body);
      if (more) return undefined;
    }
    const whole = this.parts.length > 0 ? Buffer.concat(this.parts) : body;
    this.parts = [];
    this.partBytes = 0;
    try {
      return decodeFrame(whole);
    } catch {
      return 'an undecodable frame';
    }
  }
}

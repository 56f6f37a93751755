/**
 * The cluster handshake's cryptography (protocol 2). Each side proves it knows the cookie
 * with an HMAC over everything that identifies this one connection: both nonces, both node
 * names, the protocol version and the direction (dialer or acceptor), so a proof is good
 * for one stream, one direction, one pair of nodes. The dialer checks the acceptor's proof
 * before it sends its own, so a stranger it dials learns nothing it could relay. Both
 * sides then derive one key per direction from the same inputs, and every later frame is
 * sealed with it (seal.ts): a relay in the middle that passed the handshake through still
 * cannot add, change, drop or replay a frame unnoticed. (Keys are 32 bytes: AES-256.) The cookie never crosses the wire.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The peer protocols this build speaks: the newest, and the oldest it still accepts.
 * 4: a takeover's stand-in queue (`takeover_rest`) is numbered and acknowledged, kept and
 * sent again until then (takeover-rest.ts); forwarded messages carry their origin node and
 * id there, so copies across a takeover are matched exactly (cm/takeover.ts in the broker);
 * 3: sessions handed over in takeover use the versioned record encoding (session-codec.ts);
 * 2: the release before, whose takeover carried V8 serializer bytes — a link that agrees
 * on 2 still sends those, so the two releases run side by side during an upgrade.
 */
export const PROTOCOL_VERSION = 4;
export const PROTOCOL_MIN = 2;

/** The versions one node accepts: the build's, or narrower (`cluster.rpc.protocol_min`/`protocol_max`). */
export interface ProtocolRange {
  min: number;
  max: number;
}

export const BUILD_PROTOCOLS: ProtocolRange = { min: PROTOCOL_MIN, max: PROTOCOL_VERSION };

export type Role = 'dialer' | 'acceptor';

/** What both sides know once the acceptor has answered the hello. */
export interface HandshakeFacts {
  dialer: string;
  acceptor: string;
  dialerNonce: Buffer;
  acceptorNonce: Buffer;
  version: number;
}

export function nonce(): Buffer {
  return randomBytes(32);
}

/** HMAC over length-prefixed parts: no two different inputs give the same bytes. */
function mac(key: string | Buffer, label: string, f: HandshakeFacts): Buffer {
  const h = createHmac('sha256', key);
  const part = (b: Buffer | string) => {
    const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(buf.length);
    h.update(len).update(buf);
  };
  part(`vireo-cluster/${label}`);
  part(String(f.version));
  part(f.dialer);
  part(f.acceptor);
  part(f.dialerNonce);
  part(f.acceptorNonce);
  return h.digest();
}

/** `role`'s proof that it knows `cookie`, for this connection. */
export function proof(cookie: string, role: Role, f: HandshakeFacts): Buffer {
  return mac(cookie, `proof/${role}`, f);
}

export function verify(cookie: string, role: Role, f: HandshakeFacts, got: Buffer | undefined): boolean {
  const want = proof(cookie, role, f);
  return got !== undefined && got.length === want.length && timingSafeEqual(got, want);
}

/** The keys that seal each direction's frames after the handshake. */
export function sessionKeys(cookie: string, f: HandshakeFacts): { dialerToAcceptor: Buffer; acceptorToDialer: Buffer } {
  return { dialerToAcceptor: mac(cookie, 'seal/dialer', f), acceptorToDialer: mac(cookie, 'seal/acceptor', f) };
}

/** The protocol both speak: the highest in both ranges, or undefined. */
export function agree(theirMin: number, theirMax: number, ours: ProtocolRange = BUILD_PROTOCOLS): number | undefined {
  const v = Math.min(theirMax, ours.max);
  return v >= Math.max(theirMin, ours.min) ? v : undefined;
}

/**
 * Why two nodes cannot talk, naming both and the versions each speaks: the same words in
 * the log of either side (the refused side logs the reason it is sent).
 */
export function versionMismatch(a: string, aRange: string, b: string, bRange: string): string {
  return `protocol version: ${a} speaks ${aRange}, ${b} speaks ${bRange}`;
}

export function versionRange(min: number, max: number): string {
  return min === max ? String(min) : `${min}-${max}`;
}

/** Signs a multicast announcement (mcast-discovery.ts): who, where, when. */
export function announcementMac(cookie: string, node: string, addr: string, ts: number): string {
  return createHmac('sha256', cookie).update(`vireo-cluster/mcast\n${node}\n${addr}\n${ts}`).digest('hex');
}

export function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The PROXY protocol (HAProxy's, v1 text and v2 binary) that load balancers put in front of
 * each connection, so the broker sees the device's address instead of the balancer's. The
 * header is read before anything else (before TLS on an `ssl` listener); what follows it is
 * given back to the socket untouched.
 */
import type net from 'node:net';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** v1's longest line (107 bytes with CRLF). */
const V1_MAX = 107;

/** The source `ip:port` the header names (as the broker writes peers: IPv6 without brackets); undefined for a `LOCAL`/`UNKNOWN` header (keep the socket's). */
export type ProxySource = string | undefined;

export class ProxyHeaderError extends Error {}

/** Reads the header; rejects (ProxyHeaderError) on anything else, or after `timeoutMs`. */
export function readProxyHeader(socket: net.Socket, timeoutMs: number): Promise<ProxySource> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | undefined, src?: ProxySource, rest?: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) return reject(err);
      socket.pause();
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(src);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        const r = parse(buf);
        if (r) done(undefined, r.source, buf.subarray(r.length));
      } catch (err) {
        done(err as Error);
      }
    };
    const onError = (err: Error) => done(err);
    const onClose = () => done(new ProxyHeaderError('connection closed before the PROXY header'));
    const timer = setTimeout(() => done(new ProxyHeaderError(`no PROXY header within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

/** undefined: need more bytes. */
function parse(b: Buffer): { source: ProxySource; length: number } | undefined {
  const n = Math.min(b.length, V2_SIGNATURE.length);
  if (b.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return b.length < 16 ? undefined : parseV2(b);
  if (b.subarray(0, Math.min(b.length, 6)).toString('latin1') !== 'PROXY '.slice(0, Math.min(b.length, 6))) throw new ProxyHeaderError('not a PROXY protocol header');
  const end = b.indexOf('\r\n');
  if (end < 0) {
    if (b.length >= V1_MAX) throw new ProxyHeaderError('PROXY v1 line too long');
    return undefined;
  }
  const parts = b.subarray(0, end).toString('latin1').split(' ');
  if (parts[1] === 'UNKNOWN') return { source: undefined, length: end + 2 };
  const [, proto, src, , sport] = parts;
  const port = Number(sport);
  if (parts.length !== 6 || (proto !== 'TCP4' && proto !== 'TCP6') || !src || !(port >= 0 && port <= 65535) || !/^\d+$/.test(sport ?? ''))
    throw new ProxyHeaderError('bad PROXY v1 header');
  return { source: `${src}:${port}`, length: end + 2 };
}

function parseV2(b: Buffer): { source: ProxySource; length: number } | undefined {
  const verCmd = b[12]!;
  if (verCmd >> 4 !== 2) throw new ProxyHeaderError('PROXY v2: unknown version');
  const length = 16 + b.readUInt16BE(14);
  if (b.length < length) return undefined;
  if ((verCmd & 0x0f) === 0) return { source: undefined, length }; // LOCAL: the balancer's own check
  const family = b[13]! >> 4;
  if (family === 1 && length >= 16 + 12) {
    const ip = [...b.subarray(16, 20)].join('.');
    return { source: `${ip}:${b.readUInt16BE(24)}`, length };
  }
  if (family === 2 && length >= 16 + 36) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(16 + i).toString(16));
    return { source: `${groups.join(':')}:${b.readUInt16BE(48)}`, length };
  }
  return { source: undefined, length }; // UNSPEC or a unix socket: keep the socket's address
}

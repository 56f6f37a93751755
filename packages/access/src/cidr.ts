/**
 * Addresses and networks as bans name them: one spelling per address (IPv6 lower case and
 * compressed, an IPv4-mapped IPv6 address as plain IPv4), so `2001:DB8:0::1` and
 * `2001:db8::1` are the same ban, and networks (`10.0.0.0/8`) with the host bits cleared.
 */
import { isIP, SocketAddress } from 'node:net';

/** The canonical spelling of an address, or undefined when it is none. */
export function canonicalIp(ip: string): string | undefined {
  const family = isIP(ip);
  if (family === 0) return undefined;
  if (family === 4) return ip;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4 && isIP(v4[1]!) === 4) return v4[1];
  // SocketAddress prints IPv6 in its compressed, lower-case form
  const text = new SocketAddress({ address: ip, family: 'ipv6' }).address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  return mapped ? mapped[1] : text;
}

export interface Net {
  family: 4 | 6;
  bytes: Buffer;
  prefix: number;
}

/** `10.0.0.0/8`, `2001:db8::/32` (a bare address is a /32 or /128); undefined when not one. */
export function parseNet(cidr: string): Net | undefined {
  const [addr, bits, extra] = cidr.split('/');
  if (extra !== undefined || addr === undefined) return undefined;
  const ip = canonicalIp(addr);
  if (ip === undefined) return undefined;
  const family = isIP(ip) as 4 | 6;
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  const bytes = toBytes(ip, family);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return { family, bytes, prefix };
}

/** The network's canonical spelling: its address with host bits cleared, and the prefix. */
export function formatNet(n: Net): string {
  const ip = n.family === 4 ? [...n.bytes].join('.') : canonicalIp(bytesToV6(n.bytes))!;
  return `${ip}/${n.prefix}`;
}

export function netContains(n: Net, ip: string): boolean {
  const c = canonicalIp(ip);
  if (c === undefined || isIP(c) !== n.family) return false;
  const b = toBytes(c, n.family);
  const whole = Math.floor(n.prefix / 8);
  for (let i = 0; i < whole; i++) if (b[i] !== n.bytes[i]) return false;
  const rest = n.prefix % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (b[whole]! & mask) === n.bytes[whole];
}

function toBytes(ip: string, family: 4 | 6): Buffer {
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const parse = (s: string | undefined) => (s ? s.split(':') : []).flatMap((g) => (g.includes('.') ? v4Groups(g) : [parseInt(g, 16)]));
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function v4Groups(v4: string): number[] {
  const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
  return [(a << 8) | b, (c << 8) | d];
}

function bytesToV6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/**
 * Parsers (and, for the docs, printers) of the value formats EMQX users write:
 * durations (`15s`), byte sizes (`1MB`) and listen addresses (`0.0.0.0:1883`).
 * Each parser returns `undefined` for text it does not accept, so the validator
 * can phrase one error message per key.
 */
import { isIP } from 'node:net';
import type { Bind } from './schema-dsl.js';

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * `500ms`, `15s`, `1m`, `2h`, `1d`, `1w`, compounds like `1h30m`, and decimals like
 * `1.5s`. A plain number is milliseconds, as in EMQX. Units are case-insensitive
 * (there is no month unit, so `M` cannot be ambiguous).
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toLowerCase();
  if (/^\d+$/.test(text)) return Number(text);
  // The whole text must be a sequence of <number><unit> parts, nothing else.
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(text)) return undefined;
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) {
    total += Number(part[1]) * (DURATION_UNITS[part[2] ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** The shortest exact spelling of a duration, for docs: 15000 → `15s`, 7200000 → `2h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

// 1024-based, as EMQX reads `1MB` (the MQTT limit 268435455 is "256MB - 1").
const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** `1MB`, `64KB`, `512B`, `1.5MB`, `1 MB`; a plain number is bytes. Case-insensitive. */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(value.trim().toLowerCase());
  const unit = m ? BYTE_UNITS[m[2] ?? ''] : undefined;
  if (!m || unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

/** The shortest exact spelling of a size, for docs: 1048576 → `1MB`. */
export function formatByteSize(bytes: number): string {
  for (const [unit, size] of [
    ['GB', 1024 ** 3],
    ['MB', 1024 ** 2],
    ['KB', 1024],
  ] as const) {
    if (bytes !== 0 && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/** A host name (RFC 1123 labels) or an IPv4 address; IPv6 goes in brackets and is checked apart. */
function isHostName(host: string): boolean {
  return /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(host);
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/**
 * A listen address: `0.0.0.0:1883`, `127.0.0.1:1883`, `[::]:1883`, `localhost:1883`,
 * or a port alone (`1883`, `:1883`), which listens on every IPv4 interface as EMQX
 * does. Port 0 is accepted here; it means "disabled" to the listeners.
 */
export function parseBind(value: unknown): Bind | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 0 && value <= 65535 ? { host: '0.0.0.0', port: value } : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const portOnly = /^:?(\d+)$/.exec(text);
  if (portOnly) {
    const port = parsePort(portOnly[1] ?? '');
    return port === undefined ? undefined : { host: '0.0.0.0', port };
  }
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6) {
    const host = v6[1] ?? '';
    const port = parsePort(v6[2] ?? '');
    return isIP(host) === 6 && port !== undefined ? { host, port } : undefined;
  }
  const hostPort = /^([^:\s[\]]+):(\d+)$/.exec(text);
  if (hostPort) {
    const host = hostPort[1] ?? '';
    const port = parsePort(hostPort[2] ?? '');
    return isHostName(host) && port !== undefined ? { host, port } : undefined;
  }
  return undefined;
}

/** A peer address `host:port` (host required, port 1..65535), e.g. a cluster seed. */
export function isAddress(value: string): boolean {
  const b = /^:?\d+$/.test(value.trim()) ? undefined : parseBind(value);
  return b !== undefined && b.port > 0;
}

/** An http(s) URL, e.g. an etcd endpoint. */
export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** How a bind is written back, for docs and log lines. */
export function formatBind(b: Bind): string {
  return isIP(b.host) === 6 ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

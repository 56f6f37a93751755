/**
 * Parsers (and, for the docs, printers) of the value formats EMQX users write:
 * durations (`15s`), byte sizes (`1MB`) and listen addresses (`0.0.0.0:1883`).
 * Each parser returns `undefined` for text it does not accept, so the validator
 * can phrase one error message per key.
 */
import { isIP } from 'node:net';
import type { Bind } from './schema-dsl.js';

// durations and sizes are parsed in @vireo/broker (units.ts), which the rate limits and the API share
export { parseDuration, formatDuration, parseByteSize, formatByteSize } from '@vireo/broker';

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

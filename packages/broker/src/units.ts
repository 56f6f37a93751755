/**
 * The value formats EMQX users write for durations (`15s`, `1h30m`; a plain number is
 * milliseconds) and byte sizes (`1MB`, 1024-based), parsed once here for the configuration,
 * the HTTP API and the rate limits. Each parser returns `undefined` for text it does not accept.
 */

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

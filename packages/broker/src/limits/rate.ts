/**
 * EMQX's rate values (`messages_rate = "1000/s"`, `bytes_rate = "1MB/s"`,
 * `max_conn_burst = "10000/60m"`): an amount per interval. `infinity` means no limit.
 */
import { parseByteSize, parseDuration } from '../units.js';

/** An amount (messages, bytes or connections) allowed per interval. */
export interface Rate {
  readonly amount: number;
  readonly intervalMs: number;
}

/**
 * Parses `1000/s`, `10000/60m`, `500/10s`, `1MB/s` (sizes 1024-based, as in EMQX; only when
 * `sizes` is set) or `infinity`. Returns null for `infinity`, undefined when not a rate.
 */
export function parseRate(text: string, sizes = false): Rate | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'infinity') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)\s*\/\s*(\d*(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(t);
  if (!m) return undefined;
  // the amount and the interval in the units the configuration reads everywhere (units.ts)
  const amount = sizes ? parseByteSize(`${m[1]}${m[2]}`) : m[2] === '' ? Number(m[1]) : undefined;
  const intervalMs = parseDuration(`${m[3] === '' ? '1' : m[3]}${m[4]}`);
  if (amount === undefined || intervalMs === undefined) return undefined;
  if (!(amount > 0) || !(intervalMs > 0) || !Number.isFinite(amount)) return undefined;
  return { amount, intervalMs };
}

/** The rate written back as EMQX spells it, for logs and docs: `{100, 1000}` → `100/s`. */
export function formatRate(r: Rate | null | undefined): string {
  if (!r) return 'infinity';
  const per =
    r.intervalMs % 86_400_000 === 0
      ? `${r.intervalMs / 86_400_000}d`
      : r.intervalMs % 3_600_000 === 0
        ? `${r.intervalMs / 3_600_000}h`
        : r.intervalMs % 60_000 === 0
          ? `${r.intervalMs / 60_000}m`
          : r.intervalMs % 1000 === 0
            ? `${r.intervalMs / 1000}s`
            : `${r.intervalMs}ms`;
  return `${r.amount}/${per.replace(/^1(?=[a-z]+$)/, '')}`;
}

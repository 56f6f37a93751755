/**
 * EMQX's rate values (`messages_rate = "1000/s"`, `bytes_rate = "1MB/s"`,
 * `max_conn_burst = "10000/60m"`): an amount per interval. `infinity` means no limit.
 */

/** An amount (messages, bytes or connections) allowed per interval. */
export interface Rate {
  readonly amount: number;
  readonly intervalMs: number;
}

const TIME_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/**
 * Parses `1000/s`, `10000/60m`, `500/10s`, `1MB/s` (sizes 1024-based, as in EMQX; only when
 * `sizes` is set) or `infinity`. Returns null for `infinity`, undefined when not a rate.
 */
export function parseRate(text: string, sizes = false): Rate | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'infinity') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)\s*\/\s*(\d*(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(t);
  if (!m) return undefined;
  const unit = sizes ? SIZE_UNITS[m[2]] : m[2] === '' ? 1 : undefined;
  if (unit === undefined) return undefined;
  const amount = Number(m[1]) * unit;
  const count = m[3] === '' ? 1 : Number(m[3]);
  const intervalMs = count * TIME_UNITS[m[4]];
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

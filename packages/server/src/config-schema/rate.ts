/**
 * EMQX's rate values for the listener limiters (`1000/s`, `1MB/s`, `10000/60m`, `infinity`),
 * parsed by @vireo/broker's `parseRate`; a bad value names its key (`listeners.tcp.default.messages_rate:
 * expected a rate like 1000/s …`).
 */
import { parseRate, type Rate } from '@vireo/broker';
import { value, type ValueSpec } from '../schema-dsl.js';

const describe = (raw: unknown) => (typeof raw === 'string' ? JSON.stringify(raw) : String(raw));

/** A rate key whose default is `infinity` (no limit): the parsed value is null then. */
export function rate(s: { description: string; sizes?: boolean }): ValueSpec<Rate | null> {
  const expected = s.sizes ? 'a rate like 1MB/s, 64KB/s or 100MB/60m, or infinity' : 'a rate like 1000/s or 10000/60m, or infinity';
  return value<Rate | null>({
    default: null,
    docDefault: 'infinity',
    expected,
    description: s.description,
    parse: (raw) => {
      const r = typeof raw === 'string' ? parseRate(raw, s.sizes) : undefined;
      return r === undefined ? { errors: [{ at: '', message: `expected ${expected}, got ${describe(raw)}` }] } : { value: r };
    },
  });
}

/** A burst key: `0` (the default, no burst) or a rate (`10000/60m`: up to 10 000 more, refilled over an hour). */
export function burst(s: { description: string; sizes?: boolean }): ValueSpec<Rate | null> {
  const expected = s.sizes ? '0 or a rate like 100MB/60m' : '0 or a rate like 10000/60m';
  return value<Rate | null>({
    default: null,
    docDefault: '0',
    expected,
    description: s.description,
    parse: (raw) => {
      if (raw === 0 || raw === '0') return { value: null };
      const r = typeof raw === 'string' ? parseRate(raw, s.sizes) : undefined;
      return r ? { value: r } : { errors: [{ at: '', message: `expected ${expected}, got ${describe(raw)}` }] };
    },
  });
}

/**
 * A listener's limiters changed while it runs (the HTTP API's `PUT /api/v5/listeners/{id}`),
 * and the log lines of a listener delaying connections for `max_conn_rate`.
 */
import type { Logger } from 'pino';
import type { ListenerOptions } from '../options.js';
import type { OnConnRateEpisode, RunningListener } from '../transport/listeners.js';
import { retuneClients, type InputLimitEnv, type LimitedClient } from './input-limiter.js';
import { formatRate, type Rate } from './rate.js';

/** EMQX 5's listener limiter keys; null: `infinity` (a rate) or `0` (a burst). */
export interface ListenerRates {
  maxConnRate: Rate | null;
  maxConnBurst: Rate | null;
  messagesRate: Rate | null;
  messagesBurst: Rate | null;
  bytesRate: Rate | null;
  bytesBurst: Rate | null;
}

/** The listener's limiters as they are now. */
export function listenerRates(l: ListenerOptions): ListenerRates {
  return {
    maxConnRate: l.maxConnRate ?? null,
    maxConnBurst: l.maxConnBurst ?? null,
    messagesRate: l.messagesRate ?? null,
    messagesBurst: l.messagesBurst ?? null,
    bytesRate: l.bytesRate ?? null,
    bytesBurst: l.bytesBurst ?? null,
  };
}

function set<K extends keyof ListenerOptions>(l: ListenerOptions, key: K, v: ListenerOptions[K] | null): void {
  if (v === null || v === undefined) delete l[key];
  else l[key] = v;
}

/**
 * Applies new rates: the listener's options (read by every connection accepted from now on),
 * its accept gate (the connections waiting are re-timed) and the limiters of its connected
 * clients. Returns how many connected clients took the new per-client rates.
 */
export function applyListenerRates(l: ListenerOptions, running: RunningListener | undefined, r: ListenerRates, clients: Iterable<LimitedClient>, env: InputLimitEnv): number {
  const connChanged = !sameRate(l.maxConnRate, r.maxConnRate) || !sameRate(l.maxConnBurst, r.maxConnBurst);
  set(l, 'maxConnRate', r.maxConnRate);
  set(l, 'maxConnBurst', r.maxConnBurst);
  set(l, 'messagesRate', r.messagesRate);
  set(l, 'messagesBurst', r.messagesBurst);
  set(l, 'bytesRate', r.bytesRate);
  set(l, 'bytesBurst', r.bytesBurst);
  if (connChanged) running?.setConnRate(r.maxConnRate, r.maxConnBurst);
  const n = retuneClients(l, clients, env);
  env.logger.info(
    {
      listener: l.name,
      max_conn_rate: formatRate(r.maxConnRate),
      max_conn_burst: r.maxConnBurst ? formatRate(r.maxConnBurst) : '0',
      messages_rate: formatRate(r.messagesRate),
      messages_burst: r.messagesBurst ? formatRate(r.messagesBurst) : '0',
      bytes_rate: formatRate(r.bytesRate),
      bytes_burst: r.bytesBurst ? formatRate(r.bytesBurst) : '0',
      clients: n,
    },
    'Listener limiters changed',
  );
  return n;
}

function sameRate(a: Rate | null | undefined, b: Rate | null | undefined): boolean {
  return (a ?? null) === (b ?? null) || (!!a && !!b && a.amount === b.amount && a.intervalMs === b.intervalMs);
}

/** One warning when a listener starts making connections wait for `max_conn_rate`, one line when it stops. */
export function connRateEpisodeLogger(logger: Logger): OnConnRateEpisode {
  return (l, event, delayed) => {
    const fields = { listener: l.name, max_conn_rate: formatRate(l.maxConnRate), max_conn_burst: l.maxConnBurst ? formatRate(l.maxConnBurst) : '0' };
    if (event === 'start') logger.warn(fields, 'Listener connection rate limit reached: new connections wait (their CONNECT unread) until max_conn_rate allows');
    else logger.info({ ...fields, delayed }, 'Listener connection rate limit no longer reached: new connections are accepted at once');
  };
}

import type { Logger } from 'pino';
import type { Retainer } from '../routing/retainer.js';
import type { Session } from '../session/session.js';

/**
 * Deletes expired messages in the background, every `interval` ms (0: never): retained
 * messages, which otherwise go only when a subscription finds them, and messages queued for
 * sessions, which otherwise go only when they reach the head of the queue. Both are written
 * to the store, so without the sweep they would stay on disk until then.
 */
export function startExpirySweep(retainer: Retainer, sessions: () => Iterable<Session>, interval: number, logger: Logger): NodeJS.Timeout | undefined {
  if (interval <= 0) return undefined;
  const timer = setInterval(() => {
    const now = Date.now();
    const retained = retainer.sweepExpired(now);
    let queued = 0;
    for (const s of sessions()) queued += s.dropExpired(now);
    if (retained + queued > 0) logger.debug({ retained, queued }, 'Expired messages deleted');
  }, interval);
  timer.unref();
  return timer;
}

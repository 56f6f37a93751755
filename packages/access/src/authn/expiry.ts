/**
 * Disconnects clients whose authentication has an end (a JWT's `exp` with EMQX's
 * `disconnect_after_expire`, an HTTP answer's `expire_at`) when that time comes: one timer
 * per connected client, dropped when it disconnects. A connection that replaced the one the
 * timer was armed for (same client id, new CONNECT) is not touched: it authenticated anew.
 */
import type pino from 'pino';
import type { ClientInfo } from '@vireo/broker';

/** setTimeout's longest delay; later ends are re-armed from there. */
const MAX_DELAY = 2 ** 31 - 1;

export class AuthnExpiry {
  private readonly timers = new Map<string, { info: ClientInfo; timer: NodeJS.Timeout }>();

  constructor(
    /** Closes exactly this connection; false when it is gone or replaced. */
    private readonly disconnect: (info: ClientInfo) => boolean,
    private readonly logger: pino.Logger,
  ) {}

  arm(info: ClientInfo, expireAt: number): void {
    this.disarm(this.timers.get(info.clientId)?.info);
    const fire = () => {
      const left = expireAt - Date.now();
      if (left > 0) {
        entry.timer = setTimeout(fire, Math.min(left, MAX_DELAY)).unref();
        return;
      }
      this.timers.delete(info.clientId);
      if (this.disconnect(info)) {
        this.logger.info(
          { clientid: info.clientId, username: info.username, peer: info.peer, expire_at: new Date(expireAt).toISOString(), reason: 'expired' },
          'Client disconnected: its authentication expired',
        );
      }
    };
    const entry = { info, timer: setTimeout(fire, Math.max(0, Math.min(expireAt - Date.now(), MAX_DELAY))).unref() };
    this.timers.set(info.clientId, entry);
  }

  /** The client disconnected: its timer goes (unless the timer is another connection's). */
  disarm(info: ClientInfo | undefined): void {
    if (!info) return;
    const e = this.timers.get(info.clientId);
    if (e && e.info === info) {
      clearTimeout(e.timer);
      this.timers.delete(info.clientId);
    }
  }

  get size(): number {
    return this.timers.size;
  }

  close(): void {
    for (const e of this.timers.values()) clearTimeout(e.timer);
    this.timers.clear();
  }
}

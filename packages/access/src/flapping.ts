/**
 * EMQX's `flapping_detect`: a client id that connects more than `max_count` times within
 * `window_time` is banned (by client id) for `ban_time`. Each client id's window starts at its
 * first CONNECT and is counted until it ends; then the next CONNECT starts a new one. Only the
 * client id is counted, as in EMQX: a client that changes its id each time is not caught.
 */
export interface FlappingOptions {
  maxCount: number;
  /** ms */
  windowMs: number;
  /** ms */
  banMs: number;
}

export const DEFAULT_FLAPPING: FlappingOptions = { maxCount: 15, windowMs: 60_000, banMs: 300_000 };

export class FlappingDetector {
  /** client id → [window start (ms since the epoch), CONNECTs in it] */
  private readonly windows = new Map<string, [number, number]>();

  constructor(public opts: FlappingOptions) {}

  /** Counts a CONNECT; true when it is one too many (the client is flapping). */
  connect(clientId: string, now = Date.now()): boolean {
    const w = this.windows.get(clientId);
    if (!w || now - w[0] >= this.opts.windowMs) {
      this.windows.set(clientId, [now, 1]);
      return this.opts.maxCount < 1;
    }
    w[1]++;
    if (w[1] <= this.opts.maxCount) return false;
    // banned now: its count starts again when the ban ends
    this.windows.delete(clientId);
    return true;
  }

  /** Forgets windows that have ended (run periodically). */
  purge(now = Date.now()): void {
    for (const [id, w] of this.windows) if (now - w[0] >= this.opts.windowMs) this.windows.delete(id);
  }

  get size(): number {
    return this.windows.size;
  }
}
